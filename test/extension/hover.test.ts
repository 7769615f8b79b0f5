// Hover texts, on the examples.

import { describe, expect, test } from 'vitest';
import { analyze } from '../../src/extension/features/analysis';
import { decodePte, formatSplit, splitAddress } from '../../src/extension/features/decode';
import { hover } from '../../src/extension/features/hover';
import { at, example } from './helpers';

describe('hover: addresses split per level for the file mode', () => {
  test('mode 64: 0x400000 is PML4 0, PDPT 0, PD 2, PT 0, offset 0', () => {
    const a = example('demand-fault.mmutrace');
    const h = hover(a, at(a, 'read 0x400000 @fault', '0x400000', 2))!;
    expect(h.markdown).toContain('PML4 0, PDPT 0, PD 2, PT 0, offset 0');
    expect(h.markdown).toContain('mode 64');
    expect(h.range).toEqual({ line: 15, col: 6, endLine: 15, endCol: 14 });
  });

  test('mode 32: two levels of 10 bits', () => {
    const a = example('mode32-quadrants.mmutrace');
    const h = hover(a, at(a, 'map 0x600000', '0x600000'))!;
    expect(h.markdown).toContain('PD 1, PT 512, offset 0');
    expect(h.markdown).not.toContain('PML4');
  });

  test('mode pae: a PDPT of 4 entries over 9-bit levels', () => {
    const a = analyze('mode pae\nspace s\nmap 0xc0201234 = 0x5000 P W\n');
    expect(hover(a, { line: 3, col: 6 })!.markdown).toContain('PDPT 3, PD 1, PT 1, offset 0x234');
  });

  test('a large-page map splits down to its level; the offset is within the large page', () => {
    const a = example('large-page.mmutrace');
    const h = hover(a, at(a, 'map 0x200000 L2', '0x200000'))!;
    expect(h.markdown).toContain('PML4 0, PDPT 0, PD 1, offset 0');
    expect(h.markdown).not.toMatch(/, PT \d/);
    expect(h.markdown).toContain('2 MiB page');
  });

  test('a mode-64 high address is shown sign-extended', () => {
    const a = analyze('mode 64\nspace k\nmap 0xffff800000001000 = 0x1000 P W\n');
    const h = hover(a, { line: 3, col: 6 })!;
    expect(h.markdown).toContain('0xffff_8000_0000_1000');
    expect(h.markdown).toContain('PML4 256, PDPT 0, PD 0, PT 1, offset 0');
  });

  test('splitAddress and formatSplit directly', () => {
    expect(formatSplit(splitAddress(0x400000, '64'))).toBe('PML4 0, PDPT 0, PD 2, PT 0, offset 0');
    expect(formatSplit(splitAddress(0x7fff_ffff_f123, '64'))).toBe('PML4 255, PDPT 511, PD 511, PT 511, offset 0x123');
  });
});

describe('hover: PTE values decoded for the mode and level', () => {
  test('a leaf with flags', () => {
    const a = example('demand-fault.mmutrace');
    const h = hover(a, at(a, 'map 0x401000', '0x201000'))!;
    expect(h.markdown).toContain('**PTE** `0x201067` (mode 64, L1)');
    expect(h.markdown).toContain('Maps the 4 KiB page at guest-physical 0x201000 (read-write, user and kernel)');
    expect(h.markdown).toContain('flags `P W U A D`');
  });

  test('an empty entry', () => {
    const a = example('demand-fault.mmutrace');
    const h = hover(a, at(a, 'map 0x400000', '= 0', 2))!;
    expect(h.markdown).toContain('Empty PTE: not present');
  });

  test('a flag under the mouse: its meaning, then the whole entry', () => {
    const a = example('demand-fault.mmutrace');
    const h = hover(a, at(a, 'pte 0x400000', ' D', 1))!;
    expect(h.range).toEqual({ line: 17, col: 33, endLine: 17, endCol: 34 });
    expect(h.markdown).toMatch(/^\*\*D\*\* \(bit 6\): Dirty/);
    expect(h.markdown).toContain('`0x200067`');
  });

  test('a large page at L2 in mode 64 maps 2 MiB; in mode 32, 4 MiB', () => {
    const a = example('large-page.mmutrace');
    const h = hover(a, at(a, 'map 0x200000 L2', '0x40000000'))!;
    expect(h.markdown).toContain('**PDE**');
    expect(h.markdown).toContain('Maps a 2 MiB page at guest-physical 0x40000000');
    expect(decodePte(0x400083n, '32', 2).meaning).toContain('Maps a 4 MiB page at guest-physical 0x400000 (read-write, kernel only)');
  });

  test('a non-leaf entry points to a table; NX and read-only are named', () => {
    const d = decodePte(0x8000_0000_0000_5005n, '64', 3);
    expect(d.meaning).toContain('Points to the PD table at guest-physical 0x5000 (read-only, user and kernel, no execute)');
    expect(d.flags).toEqual(['P', 'U', 'NX']);
    expect(d.notes.some((n) => n.includes('A is clear'))).toBe(true);
  });

  test('a PAE PDPTE with bits it must not have', () => {
    expect(decodePte(0x1000n | 0x3n, 'pae', 3).notes.join()).toContain('reserved');
  });
});

describe('hover: keywords, words and names', () => {
  test('every keyword of a line start has a sentence', () => {
    const a = example('context-switch.mmutrace');
    for (const [start, word] of [['mode', 'mode'], ['space a', 'space'], ['map 0x400000 = 0x200000', 'map'], ['read', 'read'], ['cr3 b', 'cr3'], ['invlpg', 'invlpg'], ['expect', 'expect']] as const) {
      const h = hover(a, at(a, start, word));
      expect(h, word).toBeDefined();
      expect(h!.markdown).toContain('```mmutrace');
      expect(h!.markdown.split('\n').pop()!.length).toBeGreaterThan(20);
    }
    expect(hover(a, at(a, 'cr3 b', 'cr3'))!.markdown).toContain('context switch');
  });

  test('cpl says whether it is in the setup or after it', () => {
    const a = analyze('cpl kernel\nspace s\nmap 0x1000 = 0x1000 P W\nread 0x1000\ncpl user\n');
    expect(hover(a, { line: 1, col: 1 })!.markdown).toContain('in the setup: for every vCPU');
    expect(hover(a, { line: 5, col: 2 })!.markdown).toContain('after the setup: for the current vCPU');
    expect(hover(a, { line: 5, col: 6 })!.markdown).toContain('user privilege');
  });

  test('levels, options, mode and policy values', () => {
    const a = analyze('mode pae\npolicy zap\nspace s\nmap 0x1000 L1 = 0x5000 P\nread 0x1000\npte 0x1000 L1 = 0x6000 P size 4 offset 0 @x\n');
    expect(hover(a, { line: 1, col: 7 })!.markdown).toContain('Mode pae');
    expect(hover(a, { line: 2, col: 8 })!.markdown).toContain('zaps the shadow pte');
    expect(hover(a, { line: 4, col: 12 })!.markdown).toBe('L1 in mode pae: the PTE (page table entry): maps a 4 KiB page.');
    expect(hover(a, { line: 6, col: 27 })!.markdown).toContain('How many bytes');
    expect(hover(a, { line: 6, col: 34 })!.markdown).toContain('byte offset within the entry');
  });

  test('expression names, members, functions and flags come from EXPR_NAMES', () => {
    const a = example('copy-on-write.mmutrace');
    const line = 'expect gpa(0x400000) == 0x300000 && (policy == "tdp" && npte(0x300000) & W || spte(0x400000) & W)';
    expect(hover(a, at(a, line, 'gpa'))!.markdown).toContain('gpa(VA)');
    expect(hover(a, at(a, line, 'spte'))!.markdown).toContain('spte(VA[, LEVEL])');
    expect(hover(a, at(a, line, '& W', 2))!.markdown).toContain('W = 0x2');
    expect(hover(a, at(a, line, '0x300000'))!.markdown).toContain('= 3145728');
    const e2 = 'expect policy != "tdp" && last.exits == 1 && exits.emulate == 1 || policy == "tdp" && last.exits == 0';
    expect(hover(a, at(a, e2, 'emulate'))!.markdown).toContain('exits.emulate');
    expect(hover(a, at(a, e2, 'exits.emulate'))!.markdown).toContain('VM exits so far');
  });

  test('an expression the parser rejected still gets names explained', () => {
    const a = analyze('read 0x1000\nexpect exits.pf == \n');
    expect(a.result.hasErrors).toBe(true);
    expect(hover(a, { line: 2, col: 14 })!.markdown).toContain('exits.pf');
    expect(hover(a, { line: 2, col: 9 })!.markdown).toContain('VM exits so far');
  });

  test('labels and spaces say where they are', () => {
    const a = example('context-switch.mmutrace');
    expect(hover(a, at(a, 'cr3 b', '@switch'))!.markdown).toContain('**label** `@switch`, line');
    const sp = hover(a, at(a, 'cr3 b', 'b'))!.markdown;
    expect(sp).toContain('**space** `b`, declared at line 7');
    expect(sp).toContain('1 `map` line; 1 `cr3` switch');
    expect(hover(a, at(a, 'space a', 'a', 0, 1))!.markdown).toContain("every vCPU's initial CR3");
    const d = example('demand-fault.mmutrace');
    expect(hover(d, at(d, '# From @fault', 'fault'))!.markdown).toContain('read 0x400000 @fault');
  });

  test('no hover on blank lines, plain comments or punctuation', () => {
    const a = example('demand-fault.mmutrace');
    expect(hover(a, { line: 12, col: 1 })).toBeUndefined();
    expect(hover(a, { line: 1, col: 4 })).toBeUndefined();
    expect(hover(a, at(a, 'map 0x401000', '='))).toBeUndefined();
  });
});
