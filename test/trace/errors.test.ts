// Every error rule: the exact range, the message, hints and fixes.
import { describe, expect, test } from 'vitest';
import { Op } from '../../src/trace';
import { at, expectOne, lines, parse, rows } from './helpers';

describe('keywords', () => {
  test('unknown keyword: did you mean, with a fix', () => {
    const t = lines('space a', 'raed 0x1000');
    const d = expectOne(t, 2, 'raed', 'unknown keyword `raed`');
    expect(d.hint).toBe('did you mean `read`?');
    expect(d.fix).toEqual({ title: 'Replace with `read`', range: at(t, 2, 'raed'), newText: 'read' });
  });

  test('did you mean: only keywords valid at that point', () => {
    // In the setup every keyword is valid.
    expect(expectOne('mapp 0 = 0', 1, 'mapp', 'unknown keyword').hint).toBe('did you mean `map`?');
    expect(expectOne('sapce a', 1, 'sapce', 'unknown keyword').hint).toBe('did you mean `space`?');
    // After the first event, `map` is no longer a candidate.
    const d = expectOne(lines('read 0', 'mapp 0 = 0'), 2, 'mapp', 'unknown keyword `mapp`');
    expect(d.hint).not.toContain('did you mean');
    expect(d.fix).toBeUndefined();
    expect(expectOne(lines('read 0', 'wirte 0'), 2, 'wirte', 'unknown keyword').hint).toBe('did you mean `write`?');
    expect(expectOne(lines('read 0', 'cpll user'), 2, 'cpll', 'unknown keyword').hint).toBe('did you mean `cpl`?');
  });

  test('no suggestion for a word far from every keyword', () => {
    const d = expectOne('frobnicate 1', 1, 'frobnicate', 'unknown keyword `frobnicate`');
    expect(d.hint).toBeUndefined();
    expect(d.fix).toBeUndefined();
  });

  test('a line that does not start with a word', () => {
    expectOne('0x1000 read', 1, '0x1000', ['expected a keyword', '`0x1000`']);
    expectOne('  = 5', 1, '=', 'expected a keyword');
    expectOne('@label', 1, '@label', 'expected a keyword');
  });

  test('setup directives after the first event', () => {
    const t = lines('space a', 'read 0x1000', 'map 0x1000 = 0', 'poke 0x10 = 1', 'vcpus 2', 'mode 32', 'space b');
    const r = parse(t);
    expect(r.diagnostics).toHaveLength(5);
    const [m, p, v, mo, sp] = r.diagnostics;
    expect(m).toMatchObject({ ...at(t, 3, 'map'), severity: 'error', hint: 'use `pte`' });
    expect(m!.message).toContain('line 2');
    expect(m!.fix).toEqual({ title: 'Replace `map` with `pte`', range: at(t, 3, 'map'), newText: 'pte' });
    expect(p).toMatchObject({ ...at(t, 4, 'poke'), hint: 'use `store`' });
    expect(p!.fix).toMatchObject({ range: at(t, 4, 'poke'), newText: 'store' });
    for (const [d, l, kw] of [
      [v, 5, 'vcpus'],
      [mo, 6, 'mode'],
      [sp, 7, 'space'],
    ] as const) {
      expect(d).toMatchObject(at(t, l, kw));
      expect(d!.message).toContain('setup directives must come before the first event (line 2)');
    }
    // The events still parse; the late directives make no row and no setup.
    expect(rows(r).map((x) => x.op)).toEqual([Op.Read]);
    expect(r.program.setup.map((s) => s.kind)).toEqual(['space']);
  });

  test('vcpu and expect end the setup too', () => {
    expect(expectOne(lines('vcpu 0', 'space a'), 2, 'space', '(line 1)').message).toContain('setup directive');
    expectOne(lines('expect 1 == 1', 'pool 0x1000'), 2, 'pool', '(line 1)');
  });

  test('cpl is allowed on both sides', () => {
    expect(parse(lines('cpl user', 'read 0', 'cpl kernel')).diagnostics).toEqual([]);
  });
});

describe('setup directives', () => {
  test('mode: at most once', () => {
    expectOne(lines('mode 32', 'mode 64'), 2, 'mode', '`mode` given twice (first at line 1)');
  });

  test('mode: before any space (and pool, poke)', () => {
    expectOne(lines('space a', 'mode 32'), 2, 'mode', ['must come before', 'line 1', '`space`']);
    expectOne(lines('pool 0x1000', 'mode 32'), 2, 'mode', ['line 1', '`pool`']);
    expectOne(lines('poke 0x10 = 1', 'mode pae'), 2, 'mode', ['line 1', '`poke`']);
    // Other directives may come before it.
    expect(parse(lines('policy zap', 'vcpus 2', 'cpl kernel', 'shadow-pages 8', 'mode 32')).diagnostics).toEqual([]);
  });

  test('mode: a value it does not know', () => {
    expectOne('mode 48', 1, '48', 'expected `32`, `pae` or `64` after `mode`, found `48`');
    expectOne('mode', 1, 'mode', 'expected `32`, `pae` or `64` after `mode`');
    const d = expectOne('mode pea', 1, 'pea', 'expected `32`');
    expect(d.fix).toMatchObject({ newText: 'pae' });
    expectOne('mode 64 extra', 1, 'extra', 'unexpected `extra`');
  });

  test('policy: a name other than the four of language.md is a warning, recorded anyway', () => {
    for (const p of ['zap', 'update', 'access', 'tdp']) expect(parse(`policy ${p}`).diagnostics).toEqual([]);
    const t = 'policy ept';
    const d = expectOne(t, 1, 'ept', ['unknown policy `ept`', '`zap`', '`update`', '`access`', '`tdp`'], { severity: 'warning' });
    expect(d.hint).toBeUndefined();
    const r = parse(t);
    expect(r.program.policy).toBe('ept');
    expect(r.hasErrors).toBe(false);
    expect(expectOne('policy zpa', 1, 'zpa', 'unknown policy', { severity: 'warning' }).fix).toMatchObject({ newText: 'zap' });
  });

  test('policy: twice, or without a name', () => {
    expectOne(lines('policy zap', 'policy update'), 2, 'policy', '`policy` given twice (first at line 1)');
    expectOne('policy', 1, 'policy', 'expected a policy name after `policy`');
    expectOne('policy 3', 1, '3', 'expected a policy name');
  });

  test('vcpus: 1 to 64', () => {
    expectOne('vcpus 0', 1, '0', '`vcpus` must be 1 to 64');
    expectOne('vcpus 65', 1, '65', '`vcpus` must be 1 to 64, not `65`');
    expectOne('vcpus 0x1_0000_0001', 1, '0x1_0000_0001', '`vcpus` must be 1 to 64');
    expectOne('vcpus', 1, 'vcpus', 'expected a number after `vcpus`');
    expectOne(lines('vcpus 2', 'vcpus 4'), 2, 'vcpus', 'given twice (first at line 1)');
  });

  test('cpl: user or kernel', () => {
    const d = expectOne('cpl usr', 1, 'usr', 'expected `user` or `kernel` after `cpl`');
    expect(d.fix).toMatchObject({ newText: 'user' });
    expectOne('cpl', 1, 'cpl', 'expected `user` or `kernel`');
    expectOne(lines('cpl user', 'cpl kernel'), 2, 'cpl', 'given twice', { severity: 'warning' });
    expect(parse(lines('cpl user', 'cpl kernel')).program.cpl).toBe('kernel');
  });

  test('pool: 4 KiB aligned, within the physical width', () => {
    expectOne('pool 0x10000800', 1, '0x10000800', '`0x10000800`: not 4 KiB aligned');
    expectOne('mode 32\npool 0x1_0000_0000', 2, '0x1_0000_0000', '32-bit');
    expectOne('pool 0x10_0000_0000_0000', 1, '0x10_0000_0000_0000', '52-bit');
    expectOne(lines('pool 0x1000', 'pool 0x2000'), 2, 'pool', 'given twice (first at line 1)');
  });

  test('shadow-pages: 1 to 1,000,000', () => {
    expectOne('shadow-pages 0', 1, '0', '`shadow-pages` must be 1 to 1000000');
    expectOne('shadow-pages 1000001', 1, '1000001', 'must be 1 to 1000000');
    expectOne(lines('shadow-pages 1', 'shadow-pages 2'), 2, 'shadow-pages', 'given twice (first at line 1)');
  });

  test('space: a name, not declared twice', () => {
    expectOne(lines('space a', 'space b', 'space a'), 3, 'a', 'space `a` is already declared at line 1', { nth: 1 });
    expectOne('space', 1, 'space', 'expected a name after `space`');
    expectOne('space 12', 1, '12', 'expected a name after `space`, found `12`');
    expectOne('space a b', 1, 'b', 'unexpected `b`');
    // Names are case-sensitive.
    expect(parse(lines('space a', 'space A')).program.spaces).toHaveLength(2);
  });

  test('map before any space', () => {
    const d = expectOne('map 0x1000 = 0', 1, 'map', '`map` needs a space');
    expect(d.hint).toContain('space NAME');
  });

  test('map: the syntax', () => {
    expectOne(lines('space s', 'map = 0'), 2, '=', 'expected an address after `map`, found `=`');
    expectOne(lines('space s', 'map 0x1000'), 2, '0x1000', 'expected `=` after the address');
    const d = expectOne(lines('space s', 'map 0x1000 0x2000 P'), 2, '0x2000', 'expected `=` after the address, found `0x2000`');
    expect(d.fix).toEqual({ title: 'Insert `=`', range: { ...at(lines('space s', 'map 0x1000 0x2000 P'), 2, '0x2000'), endCol: 12 }, newText: '= ' });
    expectOne(lines('space s', 'map 0x1000 L2 0'), 2, '0', 'expected `=` after the level, found `0`', { nth: 4 });
    expectOne(lines('space s', 'map 0x1000 ='), 2, '=', 'expected a PTE value after `=`');
    expectOne(lines('space s', 'map 0x1000..= 0'), 2, '=', 'expected the end address after `..`, found `=`');
    expectOne(lines('space s', 'map 0x1000 = 0 @l'), 2, '@l', 'labels are allowed on events only: `map` is a setup directive');
    expectOne(lines('space s', 'map 0x1000 = 0 size 4'), 2, 'size', '`size` is not allowed on `map`');
  });

  test('map ranges: aligned to the level page size, not empty, not too long', () => {
    const s = (l: string): string => lines('space s', l);
    expectOne(s('map 0x1800..0x3000 = 0'), 2, '0x1800', 'not aligned to the 4 KiB pages of level 1');
    expectOne(s('map 0x1000..0x3800 = 0'), 2, '0x3800', 'not aligned to the 4 KiB pages of level 1');
    expectOne(s('map 0x200000..0x500000 L2 = 0 P PS'), 2, '0x500000', 'not aligned to the 2 MiB pages of level 2');
    expectOne(lines('mode 32', 'space s', 'map 0x200000..0x800000 L2 = 0 P PS'), 3, '0x200000', 'not aligned to the 4 MiB pages of level 2');
    expectOne(s('map 0x40000000..0xc0000001 L3 = 0'), 2, '0xc0000001', '1 GiB pages of level 3');
    expectOne(s('map 0x3000..0x3000 = 0'), 2, '0x3000..0x3000', 'the range is empty');
    expectOne(s('map 0x5000..0x3000 = 0'), 2, '0x5000..0x3000', 'the range is empty');
    expectOne(s('map 0..0x1_0000_1000 = 0'), 2, '0..0x1_0000_1000', ['1048577 pages', 'the limit is 1048576']);
    // The end of a range must stay in the address space.
    expectOne(lines('mode 32', 'space s', 'map 0x1000..0x1_0000_1000 = 0'), 3, '0x1_0000_1000', 'past the end of the 32-bit addresses');
    expectOne(s('map 0x7fff_ffff_f000..0x8000_0000_1000 = 0'), 2, '0x8000_0000_1000', 'lower canonical half');
    expectOne(s('map 0xffff_8000_0000_0000..0x1000 = 0'), 2, '0x1000', 'upper canonical half', { nth: 0 });
  });

  test('a range on anything but map', () => {
    expectOne('pte 0x1000..0x2000 = 0', 1, '..', 'address ranges are allowed on `map` only');
    expectOne('read 0x1000..0x2000', 1, '..', 'address ranges are allowed on `map` only');
  });

  test('poke: value fits the size, no page crossing', () => {
    expectOne('poke 0x5000 = 0x100 size 1', 1, '0x100', '`0x100` does not fit in 1 byte (size 1)');
    expectOne('poke 0x5000 = 0x1_0000 size 2', 1, '0x1_0000', 'does not fit in 2 bytes');
    expectOne('mode 32\npoke 0x5000 = 0x1_0000_0000', 2, '0x1_0000_0000', 'does not fit in 4 bytes (size 4)');
    expectOne('poke 0x5ffc = 0', 1, '0x5ffc', 'the 8-byte poke at `0x5ffc` crosses a 4 KiB page boundary');
    expect(parse('poke 0x5ff8 = 0').diagnostics).toEqual([]);
    expectOne('poke 0x5000 = 1 user', 1, 'user', '`user` is allowed on `read`, `write` and `exec` only');
    expectOne('poke 0x5000 1', 1, '1', 'expected `=` after the address');
    expectOne('poke 0x5000 = 1 P', 1, 'P', 'flag names are allowed in PTE values only');
  });
});

describe('sizes, privileges and labels', () => {
  test('size must be 1, 2, 4 or 8', () => {
    expectOne('write 0x1000 size 3', 1, '3', 'size must be 1, 2, 4 or 8, not `3`');
    expectOne('store 0x1000 = 0 size 16', 1, '16', 'size must be 1, 2, 4 or 8');
    expectOne('write 0x1000 size', 1, 'size', 'expected a number after `size`');
    expectOne('write 0x1000 size 4 size 4', 1, 'size', '`size` given twice', { nth: 1 });
  });

  test('read and exec take no size', () => {
    expectOne('read 0x1000 size 1', 1, 'size', '`read` touches one byte: it takes no `size`');
    expectOne('exec 0x1000 size 8', 1, 'size', '`exec` touches one byte');
  });

  test('user and kernel only on accesses, once', () => {
    expectOne('read 0x1000 user kernel', 1, 'kernel', '`user` and `kernel` together');
    expectOne('read 0x1000 user user', 1, 'user', '`user` given twice', { nth: 1 });
    expectOne('pte 0x1000 = 0 kernel', 1, 'kernel', '`kernel` is allowed on `read`, `write` and `exec` only');
    expectOne('store 0x1000 = 0 user', 1, 'user', 'allowed on `read`, `write` and `exec` only');
    expectOne(lines('space a', 'cr3 a user'), 2, 'user', 'allowed on `read`, `write` and `exec` only');
    expectOne('invlpg 0 kernel', 1, 'kernel', 'allowed on `read`');
  });

  test('anything else after an access is an error, with did you mean', () => {
    const d = expectOne('read 0x1000 usr', 1, 'usr', 'unexpected `usr`');
    expect(d.hint).toBe('did you mean `user`?');
    expect(d.fix).toMatchObject({ range: at('read 0x1000 usr', 1, 'usr'), newText: 'user' });
    expectOne('read 0x1000 0x2000', 1, '0x2000', 'unexpected `0x2000`');
    expectOne('read 0x1000 = 5', 1, '=', 'unexpected `=`');
    expect(expectOne('exec 0x1000 kernal', 1, 'kernal', 'unexpected').fix?.newText).toBe('kernel');
  });

  test('offset only on pte', () => {
    expectOne('store 0x1000 = 0 offset 4', 1, 'offset', '`offset` is allowed on `pte` only');
  });

  test('labels: last, named, once', () => {
    expectOne('read 0x1000 @a kernel', 1, 'kernel', 'the label must come last');
    expectOne('read 0x1000 @', 1, '@', 'expected a label name after `@`');
    expectOne('read 0x1000 @1x', 1, '@', 'expected a label name after `@`');
    const t = lines('read 0x1000 @here', 'read 0x2000', 'write 0x3000 @here');
    expectOne(t, 3, '@here', 'label `here` is already defined at line 1');
    expect(parse(t).program.labels.get('here')).toBe(0);
  });

  test('labels are not allowed on directives, vcpu, cpl and expect', () => {
    const d = expectOne('vcpus 2 @x', 1, '@x', 'labels are allowed on events only: `vcpus` is a setup directive');
    expect(d.fix).toEqual({ title: 'Remove the label', range: { line: 1, col: 8, endLine: 1, endCol: 11 }, newText: '' });
    expectOne('vcpu 0 @x', 1, '@x', '`vcpu` is not an event');
    expectOne(lines('read 0', 'cpl user @x'), 2, '@x', '`cpl` is not an event');
    expectOne('cpl user @x', 1, '@x', 'labels are allowed on events only');
    expectOne('expect last.exits == 1 @x', 1, '@x', '`expect` is not an event');
    expectOne(lines('space a', 'space b @x'), 2, '@x', 'setup directive');
  });
});

describe('events', () => {
  test('missing address', () => {
    expectOne('read', 1, 'read', 'expected an address after `read`');
    expectOne('exec kernel', 1, 'kernel', 'expected an address after `exec`, found `kernel`');
    expectOne('invlpg', 1, 'invlpg', 'expected an address after `invlpg`');
    expectOne('write', 1, 'write', 'expected an address after `write`');
    expectOne('store', 1, 'store', 'expected an address after `store`');
  });

  test('write: crossing a page, value too wide, missing `=`', () => {
    expectOne('write 0x1ffc', 1, '0x1ffc', 'the 8-byte write at `0x1ffc` crosses a 4 KiB page boundary');
    expectOne('write 0x1fff = 1 size 2', 1, '0x1fff', 'the 2-byte write');
    expect(parse('write 0x1fff = 1 size 1').diagnostics).toEqual([]);
    expect(parse('mode 32\nwrite 0x1ffc').diagnostics).toEqual([]);
    expectOne('write 0x1000 = 0x1ff size 1', 1, '0x1ff', 'does not fit in 1 byte');
    const d = expectOne('write 0x1000 0x5', 1, '0x5', 'expected `=` before the value `0x5`');
    expect(d.fix).toEqual({ title: 'Insert `=`', range: { line: 1, col: 14, endLine: 1, endCol: 14 }, newText: '= ' });
    expectOne('write 0x1000 =', 1, '=', 'expected a value after `=`');
    expectOne('write 0x1000 = 5 P', 1, 'P', 'flag names are allowed in PTE values only (`map`, `pte`)');
  });

  test('pte: levels must exist in the mode', () => {
    expectOne('mode 32\npte 0x1000 L3 = 0', 2, 'L3', '`L3` does not exist in mode 32 (levels L1..L2)');
    expectOne('mode pae\npte 0x1000 L4 = 0', 2, 'L4', '`L4` does not exist in mode pae (levels L1..L3)');
    expectOne('pte 0x1000 L5 = 0', 1, 'L5', '`L5` is not a level');
    expectOne('pte 0x1000 L0 = 0', 1, 'L0', 'is not a level');
    expectOne(lines('mode 32', 'space s', 'map 0x1000 l3 = 0'), 3, 'l3', '`L3` does not exist in mode 32');
  });

  test('pte: size and offset within the entry', () => {
    expectOne('pte 0x1000 = 0 size 4 offset 6', 1, 'size 4 offset 6', 'size 4 at offset 6 goes past the end of the 8-byte entries of mode 64');
    expectOne('pte 0x1000 = 0 offset 4', 1, 'offset 4', 'size 8 at offset 4 goes past the end');
    expectOne('mode 32\npte 0x1000 = 0 size 8', 2, 'size 8', 'size 8 goes past the end of the 4-byte entries of mode 32');
    expectOne('pte 0x1000 = 0 offset 8', 1, '8', 'offset `8` is past the 8-byte entries');
    expectOne('pte 0x1000 = 0 offset 2 size 2 offset 2', 1, 'offset', '`offset` given twice', { nth: 1 });
  });

  test('pte values: flags', () => {
    expectOne('mode 32\npte 0x1000 = 0x5000 P NX', 2, 'NX', '`NX` does not exist in mode 32');
    expectOne('pte 0x1000 = 0x201003 P W', 1, '0x201003', '`0x201003` has bits 0..11 set while flags are named');
    expectOne('mode 32\npte 0x1000 = 0x1_0000_0000', 2, '0x1_0000_0000', 'wider than the 4-byte entries of mode 32');
    const d = expectOne('pte 0x1000 = 0x5000 P Q', 1, 'Q', ['unknown flag `Q`', 'P W U PWT PCD A D PS G NX']);
    expect(d.hint).toBeUndefined();
    const e = expectOne('pte 0x1000 = 0x5000 P PSS', 1, 'PSS', 'unknown flag `PSS`');
    expect(e.hint).toBe('did you mean `PS`?');
    expect(e.fix).toMatchObject({ newText: 'PS' });
    // Flags are case-insensitive.
    expect(rows(parse('pte 0 = 0x5000 p w nx'))[0]!.value).toBe(0x8000_0000_0000_5003n);
  });

  test('pte values: a flag twice is a warning', () => {
    const t = 'pte 0x1000 = 0x5000 P W P';
    const d = expectOne(t, 1, 'P', 'flag `P` given twice', { nth: 1, severity: 'warning' });
    expect(d.fix).toEqual({ title: 'Remove the second `P`', range: { line: 1, col: 24, endLine: 1, endCol: 26 }, newText: '' });
    const r = parse(t);
    expect(r.hasErrors).toBe(false);
    expect(rows(r)[0]!.value).toBe(0x5003n);
  });

  test('store: crossing a page, value too wide', () => {
    expectOne('store 0x1ff9 = 0', 1, '0x1ff9', 'the 8-byte store at `0x1ff9` crosses a 4 KiB page boundary');
    expectOne('store 0x1000 = 0x1_0000 size 2', 1, '0x1_0000', 'does not fit in 2 bytes (size 2)');
    expectOne('store 0x1000 0', 1, '0', 'expected `=` after the address', { nth: 4 });
  });

  test('cr3: a declared space or an aligned address', () => {
    const t = lines('space init', 'space other', 'cr3 inti');
    const d = expectOne(t, 3, 'inti', 'unknown space `inti`');
    expect(d.hint).toBe('did you mean `init`?');
    expect(d.fix).toEqual({ title: 'Replace with `init`', range: at(t, 3, 'inti'), newText: 'init' });
    expect(expectOne(lines('space init', 'cr3 zzzzz'), 2, 'zzzzz', 'unknown space').fix).toBeUndefined();
    expectOne('cr3 foo', 1, 'foo', 'no space is declared');
    expectOne('cr3 0x401003', 1, '0x401003', '`0x401003`: not 4 KiB aligned');
    expectOne('mode 32\ncr3 0x1_0000_0000', 2, '0x1_0000_0000', '32-bit physical');
    expectOne('cr3', 1, 'cr3', 'expected a space name or an address after `cr3`');
    expectOne('cr3 0x1000 0x2000', 1, '0x2000', 'unexpected `0x2000`');
  });

  test('vcpu N must be below vcpus', () => {
    expectOne('vcpu 1', 1, '1', 'vCPU `1` does not exist: `vcpus` is 1 (vCPUs 0..0)');
    expectOne(lines('vcpus 4', 'vcpu 4'), 2, '4', '`vcpus` is 4 (vCPUs 0..3)');
    expectOne('vcpu', 1, 'vcpu', 'expected a vCPU number after `vcpu`');
    expectOne('vcpu 0 1', 1, '1', 'unexpected `1`');
  });

  test('expect: an expression, its errors in file coordinates', () => {
    expectOne('expect', 1, 'expect', 'expected an expression after `expect`');
    expectOne('expect    # nothing', 1, 'expect', 'expected an expression');
    const t = lines('read 0', '  expect last.exits == ');
    const r = parse(t);
    expect(r.hasErrors).toBe(true);
    expect(r.diagnostics.length).toBeGreaterThan(0);
    const exprStart = at(t, 2, 'last').col;
    for (const d of r.diagnostics) {
      expect(d.line).toBe(2);
      expect(d.col).toBeGreaterThanOrEqual(exprStart);
      expect(d.endCol).toBeLessThanOrEqual(at(t, 2, 'last.exits ==').endCol);
    }
    expect(r.program.expects).toEqual([]);
    expect(rows(r).map((x) => x.op)).toEqual([Op.Read]);
  });
});

describe('addresses and numbers', () => {
  test('VAs must fit the mode', () => {
    expectOne('mode 32\nread 0x1_0000_0000', 2, '0x1_0000_0000', 'does not fit in 32 bits: VAs have 32 bits in mode 32');
    expectOne('mode pae\nexec 0x1_0000_0000', 2, '0x1_0000_0000', 'VAs have 32 bits in mode pae');
    expectOne('read 0x8000_0000_0000', 1, '0x8000_0000_0000', 'not a canonical address');
    expectOne('invlpg 0xffff_7fff_ffff_f000', 1, '0xffff_7fff_ffff_f000', 'not a canonical address');
    expectOne('pte 0x1_0000_0000_0000 = 0', 1, '0x1_0000_0000_0000', 'not a canonical address');
  });

  test('GPAs must fit the physical width', () => {
    expectOne('mode 32\nstore 0x1_0000_0000 = 0', 2, '0x1_0000_0000', 'beyond the 32-bit physical addresses of mode 32');
    expectOne('store 0x10_0000_0000_0000 = 0', 1, '0x10_0000_0000_0000', 'beyond the 52-bit physical addresses of mode 64');
    expectOne('mode pae\npoke 0x10_0000_0000_0000 = 0', 2, '0x10_0000_0000_0000', '52-bit');
  });

  test('malformed numbers', () => {
    expectOne('read 0x12g4', 1, '0x12g4', '`0x12g4` is not a number: `g` is not a hex digit');
    expectOne('read 12ab', 1, '12ab', '`a` is not a decimal digit');
    expectOne('read 0b102', 1, '0b102', '`2` is not a binary digit');
    expectOne('read 0x', 1, '0x', '`0x` has no digits');
    expectOne('read 0x_k', 1, '0x_k', 'has no digits');
    expectOne('write 0 = 0x1_0000_0000_0000_0000', 1, '0x1_0000_0000_0000_0000', 'does not fit in 64 bits');
    expectOne('write 0 = 18446744073709551616', 1, '18446744073709551616', 'does not fit in 64 bits');
    expectOne('write 0 = 17179869184g', 1, '17179869184g', 'does not fit in 64 bits');
    expectOne('read 4kk', 1, '4kk', 'is not a number');
  });

  test('the largest 64-bit numbers', () => {
    expect(rows(parse('write 0 = 18446744073709551615'))[0]!.value).toBe(2n ** 64n - 1n);
    expect(rows(parse('write 0 = 0b' + '1'.repeat(64)))[0]!.value).toBe(2n ** 64n - 1n);
    expect(rows(parse('write 0 = 17179869183g'))[0]!.value).toBe(17179869183n << 30n);
  });
});

describe('many errors', () => {
  test('every error is reported, each on its line, and good lines still count', () => {
    const t = lines('space a', 'raed 0x1000', 'read 0x1000', 'write 0x1ffc', 'pte 0x1000 L9 = 0', 'read 0x2000 @ok', 'cr3 b', 'read 0x3000');
    const r = parse(t);
    expect(r.diagnostics.map((d) => d.line)).toEqual([2, 4, 5, 7]);
    expect(rows(r).map((x) => x.line)).toEqual([3, 6, 8]);
    expect(r.program.labels.get('ok')).toBe(1);
    expect(r.hasErrors).toBe(true);
  });

  test('one error per statement: no cascade', () => {
    // Two problems on one line: only the first is reported.
    expect(parse('write 0x1ffc = 0x1_0000_0000_0000_0000 bogus').diagnostics).toHaveLength(1);
  });

  test('maxDiagnostics caps the list, with a last note', () => {
    const t = Array.from({ length: 30 }, (_, i) => `bogus${i}`).join('\n');
    const r = parse(t, { maxDiagnostics: 10 });
    expect(r.diagnostics).toHaveLength(11);
    expect(r.diagnostics[10]).toMatchObject({ severity: 'error', message: '20 more diagnostics not shown', line: 11 });
    expect(r.hasErrors).toBe(true);
    expect(parse(t).diagnostics).toHaveLength(30);
    const many = Array.from({ length: 1500 }, () => 'bogus').join('\n');
    const rm = parse(many);
    expect(rm.diagnostics).toHaveLength(1001);
    expect(rm.diagnostics[1000]!.message).toBe('500 more diagnostics not shown');
  });

  test('a suppressed tail of warnings gives a warning note', () => {
    const t = Array.from({ length: 5 }, () => 'pte 0 = 0x1000 P P').join('\n');
    const r = parse(t, { maxDiagnostics: 2 });
    expect(r.diagnostics[2]).toMatchObject({ severity: 'warning', message: '3 more diagnostics not shown' });
    expect(r.hasErrors).toBe(false);
  });
});
