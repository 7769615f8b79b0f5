// designs.md: the `access` (2008) and `tdp` policies, rule by rule. Every
// expected value is worked out from designs.md (and engine.md where it
// still holds) in the comment next to it.
//
// Pool layouts (language.md): mode 64 root 0x10000000, then L3, L2, L1 top-down
// per `map`; mode pae PDPT 0x10000000, directory, table; mode 32 directory
// 0x10000000, table.

import { describe, expect, test } from 'vitest';
import { Machine, TdpMmu } from '../../src/engine';
import { A, D, P, U, W, program, spteOf, trace } from './helpers';

const seed = (mode: string) => `
  mode ${mode}
  space s
  map 0x400000 = 0
  map 0x401000 = 0x201000 P W U A D
  read 0x401000
  read 0x400000 @fault
  pte 0x400000 = 0x200000 P W U A D
  read 0x400000
`;

describe("the seed's demand fault under the four designs (designs.md's table)", () => {
  for (const mode of ['64', 'pae', '32']) {
    test(`mode ${mode}: 3, 2, 2 and 1 exits from @fault`, () => {
      const from = (policy: string): number => {
        const m = new Machine(program(seed(mode)), { policy, audit: 'full' });
        m.run();
        expect(m.auditor!.count).toBe(0);
        return m.summary('t').fromLabel['fault']!.exits;
      };
      expect([from('zap'), from('update'), from('access'), from('tdp')]).toEqual([3, 2, 2, 1]);
    });
  }
});

describe('access: the role carries the walk\'s access', () => {
  test('a table reached through a parent without W gets a shadow page of its own role', () => {
    const r = trace(
      `
      mode 64
      space s
      map 0x400000 = 0x200000 P W U A D
      map 0x600000 L2 = 0x10003000 P U A    # the same page table, without W
      read 0x400000
      read 0x600000
    `,
      'access',
    ).run();
    // pt_access: W U X through the first directory entry, U X through the second (4 = X).
    expect(r.pagesOf(0x10003).map((p) => p.role.access).sort()).toEqual([2 | 4, 1 | 2 | 4]);
    // roots have W U X
    expect(r.m.mmu.vcpus[0]!.root!.role.access).toBe(7);
    // the leaf through the read-only path: pte_access U X: no W
    expect(r.spte(0x600000)).toBe(spteOf(0x200, P | U | A | D));
    expect(r.violations).toEqual([]);
  });

  test('mode 32: quadrants and access together; X is always there (no NX)', () => {
    const r = trace(
      `
      mode 32
      space s
      map 0x400000 = 0x200000 P W U A D
      map 0x600000 = 0x300000 P W U A D
      read 0x400000
      read 0x600000
    `,
      'access',
    ).run();
    expect(r.pagesOf(0x10001).map((p) => [p.role.quadrant, p.role.access]).sort()).toEqual([
      [0, 7],
      [1, 7],
    ]);
  });

  test('D is set by a whole-entry store that runs kvm_mmu_pte_write: the leaf is zapped, reinstalled, then rebuilt', () => {
    const text = `
      mode 64
      space s
      map 0x400000 = 0x200000 P W U A      # clean
      read 0x400000
      write 0x400000 @w
    `;
    const a = trace(text, 'access');
    a.to('w');
    // The walk sets D; kvm_mmu_pte_write for the entry (the table is shadowed): its spte is
    // zapped (1) and update_pte installs it again (1); fetch then rebuilds it, writable now.
    expect(a.at('w')).toMatchObject({ exitLog: ['page-fault:fill'], zapped: 1, updated: 1 });
    expect(a.spte(0x400000)).toBe(spteOf(0x200, P | W | U | A | D));
    // The store counted in the flood detector (then the fill reset its count).
    expect(a.m.mmu.vcpus[0]!.lastPtWriteGfn).toBe(0x10003);
    // 2007: the present leaf gets W from fix_write_pf, nothing zapped or updated.
    const u = trace(text, 'update');
    u.to('w');
    expect(u.at('w')).toMatchObject({ exitLog: ['page-fault:fill'], zapped: 0, updated: 0 });
  });

  test('a metaphysical page loses W while its large entry is clean; the write links the page of the dirty key', () => {
    const r = trace(
      `
      mode pae
      space s
      map 0x400000 L2 = 0x800000 P W U A PS   # clean
      read 0x400000 @r
      write 0x400000 @w
    `,
      'access',
    );
    r.to('r');
    expect(r.pagesOf(0x800).map((p) => p.role.access)).toEqual([2 | 4]);
    expect(r.spte(0x400000)).toBe(spteOf(0x800, P | U | A));
    r.to('w');
    // kvm_mmu_pte_write for the large entry zaps the directory's link (1 spte); fetch links a new
    // metaphysical page keyed W U X.
    expect(r.at('w').zapped).toBe(1);
    expect(r.pagesOf(0x800).map((p) => p.role.access).sort()).toEqual([2 | 4, 7]);
    expect(r.spte(0x400000)).toBe(spteOf(0x800, P | W | U | A | D));
  });

  test('update_pte takes role.access AND the new entry: a withholding parent is kept (no flaw 1)', () => {
    for (const policy of ['update', 'access']) {
      const m = new Machine(program(`
        mode 64
        space s
        map 0x400000 = 0
        map 0x401000 = 0x201000 P U A D
        map 0x400000 L2 = 0x10003000 P U A
        read 0x401000
        pte 0x400000 = 0x200000 P W U A D
        write 0x400000 = 0x41
      `), { policy, audit: 'full' });
      m.run();
      // update installs W from the leaf alone: the write escapes (flaw 1); access installs U only.
      if (policy === 'update') expect(m.auditor!.violations.map((v) => v.flaw)).toEqual([1]);
      else {
        expect(m.auditor!.count).toBe(0);
        expect(m.access!.fault).toBe(0x7);
      }
    }
  });

  test('flaw 4 under access: aliases that differ in their own NX share the metaphysical page', () => {
    const r = trace(
      `
      mode 64
      space s
      map 0x200000 L2 = 0x40000000 P W U A D PS
      map 0x400000 L2 = 0x40000000 P W U A D PS NX
      exec 0x201000
      read 0x400000
      exec 0x401000 @escape
    `,
      'access',
    ).run();
    // Same frame, same pt_access (W U X above both), both dirty: one page; leaf 1 built without NX.
    expect(r.pagesOf(0x40000)).toHaveLength(1);
    expect(r.at('escape')).toMatchObject({ exits: 0, ok: true });
    expect(r.violations.map((v) => v.flaw)).toEqual([4]);
    expect(r.m.summary('t').audit.byFlaw).toEqual({ 4: 1 });
  });

  test('flaw 5: a directory shared by two PDPT entries of different access, its link made by one walk serving the other', () => {
    const r = trace(
      `
      mode 64
      space s
      map 0x40000000 = 0x200000 P W U A D
      map 0x40200000 = 0x201000 P W U A D
      map 0x40000000 L2 = 0x10003000 P U A    # directory entry 0 without W
      map 0x80000000 L3 = 0x10002000 P U A    # PDPT entry 2: the same directory, without W
      read 0x40000000                         # pt_access U X: the directory page D has role U X
      read 0x80000000                         # through entry 2: pt_access U X again: D is shared
      write 0x40200000 = 0x5 @w               # through entry 1 (W U X): D's link 1 made, leaf writable
      write 0x80200000 = 0x6 @escape          # through entry 2, which withholds W: no exit
    `,
      'access',
    );
    r.to('w');
    // The audit sees the new writable leaf on the path through PDPT entry 2: flaw 5.
    expect(r.at('w').violations.map((v) => [v.check, v.flaw, v.va])).toEqual([[3, 5, 0x80200000n]]);
    r.to('escape');
    expect(r.at('escape')).toMatchObject({ exits: 0, ok: true });
    // The architecture refuses it: the oracle faults (0x7), so does tdp.
    const t = new Machine(program(r.text), { policy: 'tdp', audit: 'full' });
    t.run();
    expect(t.access!.fault).toBe(0x7);
  });
});

describe('tdp: a nested page table', () => {
  const tdp = (text: string) => trace(text, 'tdp');

  test('an npt exit for each guest-physical frame a walk touches first, in walk order; nested pages keyed by level and first frame', () => {
    const r = tdp(`
      mode 64
      space s
      map 0x400000 = 0x200000 P W U A D
      map 0x401000 = 0x201000 P W U A D
      read 0x400000 @a
      read 0x401000 @b
      read 0x400000 @c
    `);
    r.to('a');
    // L4 0x10000, L3 0x10001, L2 0x10002, L1 0x10003, then the page 0x200: 5 exits.
    expect(r.at('a').exitLog).toEqual(Array(5).fill('npt:map'));
    // The root, L3 (key 0), L2 (key 0), the L1 pages of frames 0x10000.. (key 0x10000) and 0x200.. (key 0x200).
    const mmu = r.m.mmu as TdpMmu;
    expect(r.stats.pagesCreated).toBe(5);
    expect(r.m.shadow.pages().map((p) => [p.level, p.gfn])).toEqual([
      [4, 0],
      [3, 0],
      [2, 0],
      [1, 0x10000],
      [1, 0x200],
    ]);
    expect(mmu.npte(0x10003, 1)).toBe(Number(spteOf(0x10003, P | W | U | A | D)));
    expect(r.m.env.npte(0x200000, 1)).toBe(spteOf(0x200, P | W | U | A | D));
    expect(r.m.env.npte(0x201000, 1)).toBe(0n); // the table is there, the entry empty
    expect(r.m.env.npte(0x40000000000, 1)).toBe(-1n); // no L2 table on that path
    r.to('b');
    expect(r.at('b').exitLog).toEqual(['npt:map']); // only the new page
    r.to('c');
    expect(r.at('c').exits).toBe(0);
    // No shadow: spte is -1, nothing is shadowed, exits are all npt.
    expect(r.spte(0x400000)).toBe(-1n);
    expect(r.shadowed(0x10003000)).toBe(false);
    expect(r.m.summary('t').exits).toMatchObject({ total: 6, npt: 6, pf: 0, cr3: 0 });
  });

  test('the guest\'s own faults cost no exit; a pte store only maps its frame; cr3 and invlpg cost nothing', () => {
    const r = tdp(`
      mode 64
      space a
      map 0x400000 = 0
      map 0x401000 = 0x201000 P W U A D
      space b
      map 0x400000 = 0x300000 P W U A D
      read 0x401000
      read 0x400000 @f
      pte 0x400000 = 0x200000 P W U A D @p
      cr3 b @c
      invlpg 0x400000 @i
      store 0x700000 = 0x1 @s
    `);
    r.run();
    expect(r.at('f')).toMatchObject({ exits: 0, fault: 0x4, ok: false });
    expect(r.at('p').exits).toBe(0); // the table's frame was mapped by the first read
    expect(r.at('c').exits).toBe(0);
    expect(r.at('i').exits).toBe(0);
    expect(r.at('s').exitLog).toEqual(['npt:map']); // the frame it stores into
    expect(r.m.summary('t')).toMatchObject({ faults: 1, exits: { total: 6, npt: 6, inject: 0 } });
  });

  test('mode pae: a cr3 load maps the PDPT frame first; the access does not read it (the PDPTEs are registers)', () => {
    const r = tdp(`
      mode pae
      space a
      map 0x400000 = 0x200000 P W U A D     # PDPT 0x10000000, directory 0x10001000, table 0x10002000
      space b                                # PDPT 0x10003000
      map 0x400000 = 0x300000 P W U A D
      read 0x400000 @a
      cr3 b @c
      read 0x400000 @b
      cr3 a @back
    `);
    r.run();
    expect(r.at('a').exits).toBe(3); // directory, table, page
    expect(r.at('c').exitLog).toEqual(['npt:map']); // b's PDPT
    expect(r.at('b').exits).toBe(3);
    expect(r.at('back').exitLog).toEqual(['npt:map']); // a's PDPT was never read by an access
  });

  test('mode 32: directory, table, page', () => {
    const r = tdp(`
      mode 32
      space s
      map 0x400000 = 0x200000 P W U A D
      read 0x400000 @a
    `);
    r.run();
    expect(r.at('a').exits).toBe(3);
  });

  test('reclaim of nested pages: the oldest go, never the root nor the paths mapped by this event', () => {
    // 12 pages 1 GiB apart in guest-physical space: each needs a nested L2 and L1 page of its own
    // (a nested L1 page covers 2 MiB, an L2 page 1 GiB), so a pool of 8 reclaims again and again.
    const maps = Array.from({ length: 12 }, (_, k) => `map ${(k + 1) * 0x200000} = ${(k + 1) * 0x40000000} P W U A D`).join('\n');
    const reads = Array.from({ length: 12 }, (_, k) => `read ${(k + 1) * 0x200000}`).join('\n');
    const r = tdp(`mode 64\nshadow-pages 8\nspace s\n${maps}\n${reads}\n`);
    r.run();
    const s = r.m.summary('t');
    expect(s.shadow.reclaimed).toBeGreaterThan(0);
    expect(s.hangs).toBe(0);
    // The root is never reclaimed.
    expect((r.m.mmu as TdpMmu).nptRoot.alive).toBe(true);
    expect(r.violations).toEqual([]);
    // Every access completed: tdp matches the guest walk (the reads all succeed).
    expect(r.recs.every((x) => x.ok === true)).toBe(true);
  });

  test('a guest-physical address of 2^48 or more stops the replay with an error at that line', () => {
    const r = tdp(`
      mode 64
      space s
      store 0x1000000000000 = 0x1 @s
      read 0x1000
    `);
    const rec = r.to('s');
    expect(rec.error).toMatch(/2\^48 or more: the nested page table cannot map it/);
  });
});
