// Every directive and event form, with the resulting program, rows and
// statements checked field by field (expected values worked out from
// language.md, not copied from the parser's output).
import { describe, expect, test } from 'vitest';
import { EF_HAS_VALUE, EF_KERNEL, EF_USER, Op, type EventRow, type MapStmt, type PokeStmt, type SpaceStmt } from '../../src/trace';
import { at, clean, lines, rows } from './helpers';

const row = (r: Partial<EventRow> & Pick<EventRow, 'op' | 'line'>): EventRow => ({
  addr: 0,
  arg: 0,
  value: 0n,
  hasValue: false,
  size: 0,
  level: 0,
  offset: 0,
  cpl: undefined,
  ...r,
});

describe('defaults', () => {
  test('an empty file', () => {
    const r = clean('');
    const p = r.program;
    expect(p.mode).toBe('64');
    expect(p.policy).toBeUndefined();
    expect(p.vcpus).toBe(1);
    expect(p.cpl).toBe('user');
    expect(p.pool).toBe(0x10000000);
    expect(p.shadowPages).toBe(1024);
    expect(p.spaces).toEqual([]);
    expect(p.setup).toEqual([]);
    expect(p.events.count).toBe(0);
    expect(p.expects).toEqual([]);
    expect(p.labels.size).toBe(0);
    expect(p.lineCount).toBe(0);
    expect(r.statements).toBeUndefined();
  });

  test('line count: a final line without newline counts, a trailing newline does not add one', () => {
    expect(clean('read 0x1000').program.lineCount).toBe(1);
    expect(clean('read 0x1000\n').program.lineCount).toBe(1);
    expect(clean('read 0x1000\n\n').program.lineCount).toBe(2);
    expect(clean('\n').program.lineCount).toBe(1);
    expect(clean('# c\n\n# d').program.lineCount).toBe(3);
  });

  test('comments and blank lines make no statement', () => {
    const r = clean(lines('# a comment', '', '   ', '\t# indented comment'), { keepStatements: true });
    expect(r.statements).toEqual([]);
    expect(r.program.events.count).toBe(0);
  });
});

describe('setup directives', () => {
  test('mode 32, pae, 64 (case-insensitive)', () => {
    expect(clean('mode 32').program.mode).toBe('32');
    expect(clean('mode pae').program.mode).toBe('pae');
    expect(clean('MODE PAE').program.mode).toBe('pae');
    expect(clean('mode 64').program.mode).toBe('64');
  });

  test('mode statement', () => {
    const t = 'mode pae   # comment';
    const r = clean(t, { keepStatements: true });
    expect(r.statements).toEqual([
      { kind: 'mode', mode: 'pae', line: 1, range: { line: 1, col: 1, endLine: 1, endCol: 9 }, keyword: at(t, 1, 'mode') },
    ]);
  });

  test('policy records the name, lower-cased', () => {
    expect(clean('policy zap').program.policy).toBe('zap');
    expect(clean('policy UPDATE').program.policy).toBe('update');
    const t = 'policy zap';
    const r = clean(t, { keepStatements: true });
    expect(r.statements![0]).toMatchObject({ kind: 'policy', name: 'zap', nameRange: at(t, 1, 'zap') });
  });

  test('vcpus', () => {
    expect(clean('vcpus 4').program.vcpus).toBe(4);
    expect(clean('vcpus 1').program.vcpus).toBe(1);
    expect(clean('vcpus 64').program.vcpus).toBe(64);
    expect(clean('vcpus 0x10').program.vcpus).toBe(16);
    expect(clean('vcpus 4', { keepStatements: true }).statements![0]).toMatchObject({ kind: 'vcpus', count: 4 });
  });

  test('cpl in the setup sets the default', () => {
    expect(clean('cpl kernel').program.cpl).toBe('kernel');
    expect(clean('cpl user').program.cpl).toBe('user');
    expect(clean('CPL Kernel').program.cpl).toBe('kernel');
    const r = clean('cpl kernel', { keepStatements: true });
    expect(r.statements![0]).toMatchObject({ kind: 'cpl', cpl: 'kernel', line: 1 });
    expect(r.program.events.count).toBe(0);
  });

  test('pool', () => {
    expect(clean('pool 0x20000000').program.pool).toBe(0x20000000);
    expect(clean('pool 512m').program.pool).toBe(0x20000000);
    expect(clean('pool 0x000f_ffff_ffff_f000').program.pool).toBe(0xf_ffff_ffff_f000);
    expect(clean('mode 32\npool 0xfffff000').program.pool).toBe(0xfffff000);
    expect(clean('pool 0x1000', { keepStatements: true }).statements![0]).toMatchObject({ kind: 'pool', gpa: 0x1000 });
  });

  test('shadow-pages', () => {
    expect(clean('shadow-pages 16').program.shadowPages).toBe(16);
    expect(clean('Shadow-Pages 1').program.shadowPages).toBe(1);
    expect(clean('shadow-pages 1000000').program.shadowPages).toBe(1_000_000);
    expect(clean('shadow-pages 2k', { keepStatements: true }).statements![0]).toMatchObject({ kind: 'shadow-pages', count: 2048 });
  });

  test('space declarations', () => {
    const t = lines('space init', 'space my-space.2_x');
    const r = clean(t, { keepStatements: true });
    expect(r.program.spaces).toEqual([
      { name: 'init', line: 1, range: at(t, 1, 'init') },
      { name: 'my-space.2_x', line: 2, range: at(t, 2, 'my-space.2_x') },
    ]);
    const s0: SpaceStmt = {
      kind: 'space',
      name: 'init',
      nameRange: at(t, 1, 'init'),
      index: 0,
      line: 1,
      range: at(t, 1, 'space init'),
      keyword: at(t, 1, 'space'),
    };
    expect(r.program.setup[0]).toEqual(s0);
    expect(r.program.setup[1]).toMatchObject({ kind: 'space', name: 'my-space.2_x', index: 1 });
    expect(r.statements).toEqual(r.program.setup);
  });

  test('map VA = PTE (default level 1, flags OR-ed in)', () => {
    const t = lines('space init', 'map 0x400000 = 0x200000 P W U A D   # comment');
    const r = clean(t);
    const m: MapStmt = {
      kind: 'map',
      va: 0x400000,
      vaRange: at(t, 2, '0x400000'),
      level: 1,
      pte: 0x200067n,
      pteRange: at(t, 2, '0x200000 P W U A D'),
      space: 0,
      line: 2,
      range: at(t, 2, 'map 0x400000 = 0x200000 P W U A D'),
      keyword: at(t, 2, 'map'),
    };
    expect(r.program.setup[1]).toEqual(m);
    expect('vaEnd' in r.program.setup[1]!).toBe(false);
  });

  test('map builds the current space', () => {
    const r = clean(lines('space a', 'map 0x1000 = 0', 'space b', 'map 0x2000 = 0', 'map 0x3000 = 0'));
    expect(r.program.setup.map((s) => [s.kind, s.kind === 'map' ? s.space : -1])).toEqual([
      ['space', -1],
      ['map', 0],
      ['space', -1],
      ['map', 1],
      ['map', 1],
    ]);
  });

  test('map with a level and every flag', () => {
    const r = clean(lines('space s', 'map 0x40000000 L2 = 0x200000 P W U PWT PCD A D PS G NX'));
    const m = r.program.setup[1] as MapStmt;
    expect(m.level).toBe(2);
    expect(m.pte).toBe((1n << 63n) | 0x200000n | 0x1ffn);
  });

  test('map levels per mode', () => {
    expect((clean(lines('mode 64', 'space s', 'map 0 L4 = 0')).program.setup[1] as MapStmt).level).toBe(4);
    expect((clean(lines('mode pae', 'space s', 'map 0 l3 = 0')).program.setup[1] as MapStmt).level).toBe(3);
    expect((clean(lines('mode 32', 'space s', 'map 0 L2 = 0')).program.setup[1] as MapStmt).level).toBe(2);
  });

  test('map ranges', () => {
    const t = lines('space s', 'map 0x400000..0x408000 = 0x200000 P W', 'map 0x200000..0x600000 L2 = 0x200000 P PS');
    const r = clean(t);
    const a = r.program.setup[1] as MapStmt;
    expect(a.va).toBe(0x400000);
    expect(a.vaEnd).toBe(0x408000);
    expect(a.vaRange).toEqual(at(t, 2, '0x400000..0x408000'));
    expect(a.level).toBe(1);
    expect(a.pte).toBe(0x200003n);
    const b = r.program.setup[2] as MapStmt;
    expect([b.va, b.vaEnd, b.level]).toEqual([0x200000, 0x600000, 2]);
  });

  test('map ranges at the ends of the address spaces', () => {
    // mode 32: up to 4 GiB exclusive, 4 MiB large pages.
    const r32 = clean(lines('mode 32', 'space s', 'map 0xffc00000..0x1_0000_0000 L2 = 0 P PS'));
    expect((r32.program.setup[1] as MapStmt).vaEnd).toBe(2 ** 32);
    // mode 64, lower half: up to 0x8000_0000_0000 exclusive.
    const r64 = clean(lines('space s', 'map 0x7fff_ffff_e000..0x8000_0000_0000 = 0'));
    expect((r64.program.setup[1] as MapStmt).vaEnd).toBe(2 ** 47);
    // mode 64, upper half: stored as the low 48 bits.
    const hi = clean(lines('space s', 'map 0xffff_8000_0000_0000..0xffff_8000_0000_2000 = 0'));
    const m = hi.program.setup[1] as MapStmt;
    expect([m.va, m.vaEnd]).toEqual([2 ** 47, 2 ** 47 + 0x2000]);
    // The most pages a line may map.
    const big = clean(lines('space s', 'map 0..0x1_0000_0000 = 0'));
    expect((big.program.setup[1] as MapStmt).vaEnd).toBe(2 ** 32);
  });

  test('poke GPA = VALUE [size N]', () => {
    const t = lines('poke 0x5000 = 0x1234', 'poke 0x6000 = 0xff size 1');
    const r = clean(t);
    const p: PokeStmt = {
      kind: 'poke',
      gpa: 0x5000,
      gpaRange: at(t, 1, '0x5000'),
      value: 0x1234n,
      valueRange: at(t, 1, '0x1234'),
      size: 8,
      line: 1,
      range: at(t, 1, 'poke 0x5000 = 0x1234'),
      keyword: at(t, 1, 'poke'),
    };
    expect(r.program.setup[0]).toEqual(p);
    expect(r.program.setup[1]).toMatchObject({ gpa: 0x6000, value: 0xffn, size: 1 });
  });

  test('poke default size per mode', () => {
    expect((clean('mode 32\npoke 0x5000 = 1').program.setup[0] as PokeStmt).size).toBe(4);
    expect((clean('mode pae\npoke 0x5000 = 1').program.setup[0] as PokeStmt).size).toBe(8);
    expect((clean('poke 0x5000 = 1').program.setup[0] as PokeStmt).size).toBe(8);
  });

  test('pokes and maps stay in file order', () => {
    const r = clean(lines('poke 0x100 = 1', 'space a', 'poke 0x200 = 2', 'map 0x1000 = 0', 'poke 0x300 = 3'));
    expect(r.program.setup.map((s) => s.kind)).toEqual(['poke', 'space', 'poke', 'map', 'poke']);
  });

  test('the setup statements in order with keepStatements', () => {
    const t = lines('mode pae', 'policy zap', 'vcpus 2', 'cpl kernel', 'pool 0x100000', 'shadow-pages 64', 'space a', 'map 0 = 0', 'poke 0 = 0');
    const r = clean(t, { keepStatements: true });
    expect(r.statements!.map((s) => [s.kind, s.line])).toEqual([
      ['mode', 1],
      ['policy', 2],
      ['vcpus', 3],
      ['cpl', 4],
      ['pool', 5],
      ['shadow-pages', 6],
      ['space', 7],
      ['map', 8],
      ['poke', 9],
    ]);
  });
});

describe('events', () => {
  test('read, exec: size 1, the VA, no value', () => {
    const r = clean(lines('read 0x401000', 'exec 0x7fff_ffff_f000'));
    expect(rows(r)).toEqual([
      row({ op: Op.Read, line: 1, addr: 0x401000, size: 1 }),
      row({ op: Op.Exec, line: 2, addr: 0x7fff_ffff_f000, size: 1 }),
    ]);
  });

  test('user and kernel set flags', () => {
    const r = clean(lines('read 0x1000 user', 'exec 0x1000 kernel', 'write 0x1000 KERNEL', 'read 0x1000'));
    const ev = r.program.events;
    expect([ev.flagsOf(0), ev.flagsOf(1), ev.flagsOf(2), ev.flagsOf(3)]).toEqual([EF_USER, EF_KERNEL, EF_KERNEL, 0]);
    expect(rows(r).map((x) => x.cpl)).toEqual(['user', 'kernel', 'kernel', undefined]);
  });

  test('write without a value', () => {
    const r = clean('write 0x1000');
    expect(rows(r)).toEqual([row({ op: Op.Write, line: 1, addr: 0x1000, size: 8 })]);
    expect(r.program.events.flagsOf(0)).toBe(0);
  });

  test('write with a value, size, privilege and label in any order', () => {
    const r = clean(lines('write 0x1000 = 0xdead_beef size 4 kernel @w1', 'write 0x2000 = 7 user size 1 @w2', 'write 0x3000 size 2 @w3'));
    expect(rows(r)).toEqual([
      row({ op: Op.Write, line: 1, addr: 0x1000, value: 0xdeadbeefn, hasValue: true, size: 4, cpl: 'kernel' }),
      row({ op: Op.Write, line: 2, addr: 0x2000, value: 7n, hasValue: true, size: 1, cpl: 'user' }),
      row({ op: Op.Write, line: 3, addr: 0x3000, size: 2 }),
    ]);
    expect(r.program.events.flagsOf(0)).toBe(EF_HAS_VALUE | EF_KERNEL);
    expect([...r.program.labels]).toEqual([
      ['w1', 0],
      ['w2', 1],
      ['w3', 2],
    ]);
  });

  test('a 64-bit write value', () => {
    const r = clean('write 0x1000 = 0xffff_ffff_ffff_ffff');
    expect(rows(r)[0]!.value).toBe(0xffff_ffff_ffff_ffffn);
    expect(r.program.events.loOf(0)).toBe(0xffffffff);
    expect(r.program.events.hiOf(0)).toBe(0xffffffff);
  });

  test('write default size per mode', () => {
    expect(rows(clean('mode 32\nwrite 0x1000'))[0]!.size).toBe(4);
    expect(rows(clean('mode pae\nwrite 0x1000'))[0]!.size).toBe(8);
    expect(rows(clean('mode 64\nwrite 0x1000'))[0]!.size).toBe(8);
  });

  test('pte VA = PTE', () => {
    const r = clean('pte 0x400000 = 0x200000 P W U A D');
    expect(rows(r)).toEqual([row({ op: Op.Pte, line: 1, addr: 0x400000, value: 0x200067n, hasValue: true, size: 8, level: 1 })]);
    expect(r.program.events.flagsOf(0)).toBe(EF_HAS_VALUE);
  });

  test('pte with level, size, offset and label', () => {
    const r = clean(lines('mode pae', 'pte 0x400000 L2 = 0x8000_0000_0020_0000 P PS size 4 offset 4 @hi', 'pte 0x400000 = 0x201003 offset 0 size 4'));
    expect(rows(r)).toEqual([
      row({ op: Op.Pte, line: 2, addr: 0x400000, value: 0x8000_0000_0020_0081n, hasValue: true, size: 4, level: 2, offset: 4 }),
      row({ op: Op.Pte, line: 3, addr: 0x400000, value: 0x201003n, hasValue: true, size: 4, level: 1, offset: 0 }),
    ]);
    expect(r.program.labels.get('hi')).toBe(0);
  });

  test('pte default size per mode', () => {
    expect(rows(clean('mode 32\npte 0 = 0'))[0]!.size).toBe(4);
    expect(rows(clean('mode pae\npte 0 = 0'))[0]!.size).toBe(8);
    expect(rows(clean('pte 0 = 0'))[0]!.size).toBe(8);
  });

  test('pte sizes within the entry', () => {
    expect(rows(clean('mode 32\npte 0 = 0 size 2 offset 2'))[0]).toMatchObject({ size: 2, offset: 2 });
    expect(rows(clean('pte 0 = 0 size 1 offset 7'))[0]).toMatchObject({ size: 1, offset: 7 });
  });

  test('store GPA = VALUE [size N]', () => {
    const r = clean(lines('store 0x5008 = 0x1234', 'store 0x5000 = 0xff size 1 @s'));
    expect(rows(r)).toEqual([
      row({ op: Op.Store, line: 1, addr: 0x5008, value: 0x1234n, hasValue: true, size: 8 }),
      row({ op: Op.Store, line: 2, addr: 0x5000, value: 0xffn, hasValue: true, size: 1 }),
    ]);
    expect(rows(clean('mode 32\nstore 0x5000 = 1'))[0]!.size).toBe(4);
  });

  test('store to a 52-bit GPA', () => {
    expect(rows(clean('store 0xf_ffff_ffff_f000 = 1'))[0]!.addr).toBe(0xf_ffff_ffff_f000);
  });

  test('cr3 SPACE and cr3 GPA', () => {
    const r = clean(lines('space a', 'space b', 'cr3 b', 'cr3 0x5000 @switch', 'cr3 a'));
    expect(rows(r)).toEqual([
      row({ op: Op.Cr3, line: 3, addr: 0, arg: 1 }),
      row({ op: Op.Cr3, line: 4, addr: 0x5000, arg: -1 }),
      row({ op: Op.Cr3, line: 5, addr: 0, arg: 0 }),
    ]);
    expect(r.program.labels.get('switch')).toBe(1);
  });

  test('invlpg', () => {
    expect(rows(clean('invlpg 0x400000 @inv'))).toEqual([row({ op: Op.Invlpg, line: 1, addr: 0x400000 })]);
  });

  test('vcpu N is a row, arg = N', () => {
    const r = clean(lines('vcpus 4', 'vcpu 3', 'read 0', 'vcpu 0'));
    expect(rows(r)).toEqual([row({ op: Op.Vcpu, line: 2, arg: 3 }), row({ op: Op.Read, line: 3, size: 1 }), row({ op: Op.Vcpu, line: 4, arg: 0 })]);
  });

  test('cpl after the setup is a row: 0 user, 1 kernel', () => {
    const r = clean(lines('cpl kernel', 'read 0', 'cpl user', 'cpl kernel'));
    expect(r.program.cpl).toBe('kernel');
    expect(rows(r)).toEqual([row({ op: Op.Read, line: 2, size: 1 }), row({ op: Op.Cpl, line: 3, arg: 0 }), row({ op: Op.Cpl, line: 4, arg: 1 })]);
  });

  test('expect rows index Program.expects', () => {
    const t = lines('read 0', 'expect last.exits == 1   # c', 'expect policy == "a#b"');
    const r = clean(t, { keepStatements: true });
    expect(rows(r)).toEqual([row({ op: Op.Read, line: 1, size: 1 }), row({ op: Op.Expect, line: 2, arg: 0 }), row({ op: Op.Expect, line: 3, arg: 1 })]);
    const [e0, e1] = r.program.expects;
    expect(e0).toMatchObject({
      kind: 'expect',
      line: 2,
      source: 'last.exits == 1',
      exprRange: at(t, 2, 'last.exits == 1'),
      keyword: at(t, 2, 'expect'),
      range: at(t, 2, 'expect last.exits == 1'),
    });
    expect(e0!.expr.kind).toBeTypeOf('string');
    // `#` inside a string is not a comment.
    expect(e1!.source).toBe('policy == "a#b"');
    expect(r.statements!.filter((s) => s.kind === 'expect')).toEqual([e0, e1]);
  });

  test('expect in the setup ends it', () => {
    const r = clean(lines('space a', 'expect cr3 == 0', 'cr3 a'));
    expect(rows(r).map((x) => x.op)).toEqual([Op.Expect, Op.Cr3]);
  });

  test('keywords are case-insensitive', () => {
    const r = clean(lines('READ 0x1000', 'Write 0x1000', 'EXEC 0x1000', 'Pte 0 = 0 p w', 'STORE 0 = 0 SIZE 1', 'INVLPG 0'));
    expect(rows(r).map((x) => x.op)).toEqual([Op.Read, Op.Write, Op.Exec, Op.Pte, Op.Store, Op.Invlpg]);
    expect(rows(r)[3]!.value).toBe(3n);
  });

  test('no space is needed around `=` and `..`', () => {
    const r = clean(lines('space s', 'map 0x1000..0x3000=0x5000 P', 'pte 0x1000=0x5000 P', 'write 0x10=5'));
    expect((r.program.setup[1] as MapStmt).vaEnd).toBe(0x3000);
    expect(rows(r).map((x) => x.value)).toEqual([0x5001n, 5n]);
  });
});

describe('addresses', () => {
  test('mode 64: canonical upper half stored as its low 48 bits', () => {
    const r = clean(lines('read 0xffff_8000_0000_0000', 'read 0xffff_ffff_ffff_f000', 'read 0x7fff_ffff_ffff'));
    expect(rows(r).map((x) => x.addr)).toEqual([0x8000_0000_0000, 0xffff_ffff_f000, 0x7fff_ffff_ffff]);
  });

  test('mode 32 and pae: 32-bit VAs', () => {
    expect(rows(clean('mode 32\nread 0xffffffff'))[0]!.addr).toBe(0xffffffff);
    expect(rows(clean('mode pae\ninvlpg 0xfffff000'))[0]!.addr).toBe(0xfffff000);
  });

  test('number forms', () => {
    const r = clean(lines('read 4096', 'read 0b1_0000_0000_0000', 'read 0x0040_0000', 'read 4k', 'read 4M', 'read 1g', 'read 0x1K', 'read 0X10'));
    expect(rows(r).map((x) => x.addr)).toEqual([4096, 4096, 0x400000, 4096, 4 << 20, 1 << 30, 1024, 16]);
  });

  test('statement ranges of events', () => {
    const t = lines('  read 0x1000 kernel @here   # comment');
    const r = clean(t, { keepStatements: true });
    expect(r.statements).toEqual([
      {
        kind: 'read',
        line: 1,
        range: at(t, 1, 'read 0x1000 kernel @here'),
        keyword: at(t, 1, 'read'),
        va: 0x1000,
        vaRange: at(t, 1, '0x1000'),
        size: 1,
        cpl: 'kernel',
        label: { name: 'here', range: at(t, 1, '@here') },
      },
    ]);
  });

  test('statements of each event kind', () => {
    const t = lines(
      'space a',
      'write 0x10 = 5 size 1',
      'pte 0x1000 L2 = 0x200000 P PS size 4',
      'store 0x20 = 6',
      'cr3 a',
      'cr3 0x3000',
      'invlpg 0x4000',
      'vcpu 0',
      'cpl kernel',
    );
    const s = clean(t, { keepStatements: true }).statements!;
    expect(s.map((x) => x.kind)).toEqual(['space', 'write', 'pte', 'store', 'cr3', 'cr3', 'invlpg', 'vcpu', 'cpl']);
    expect(s[1]).toMatchObject({ va: 0x10, value: 5n, valueRange: at(t, 2, '5'), size: 1 });
    expect(s[2]).toMatchObject({ va: 0x1000, level: 2, value: 0x200081n, valueRange: at(t, 3, '0x200000 P PS'), size: 4, offset: 0 });
    expect(s[3]).toMatchObject({ gpa: 0x20, gpaRange: at(t, 4, '0x20'), value: 6n, size: 8 });
    expect(s[4]).toMatchObject({ space: 0, gpa: 0, targetRange: at(t, 5, 'a') });
    expect(s[5]).toMatchObject({ space: -1, gpa: 0x3000, targetRange: at(t, 6, '0x3000') });
    expect(s[6]).toMatchObject({ va: 0x4000, range: at(t, 7, 'invlpg 0x4000') });
    expect(s[7]).toMatchObject({ vcpu: 0 });
    expect(s[8]).toMatchObject({ cpl: 'kernel' });
    expect('value' in s[1]!).toBe(true);
    const w = clean('write 0x10', { keepStatements: true }).statements![0]!;
    expect('value' in w).toBe(false);
  });
});
