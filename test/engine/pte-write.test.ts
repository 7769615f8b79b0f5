// engine.md, "Guest page-table store" and kvm_mmu_pte_write: trapped stores,
// the flood detector, misaligned stores, mode-32 PDE doubling and quadrants,
// zap versus update (the seed), PAE half writes.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Machine } from '../../src/engine';
import { A, D, P, U, W, both, program, spteOf, trace } from './helpers';

// mode 64: L4 0x10000000, L3 0x10001000, L2 0x10002000, L1 T = 0x10003000.
// Entries of T: 0x400000 at +0, 0x401000 at +8, 0x402000 at +0x10, 0x403000 at +0x18 (0).
const base = `
  mode 64
  space s
  map 0x400000 = 0x200000 P W U A D
  map 0x401000 = 0x201000 P W U A D
  map 0x402000 = 0
  map 0x403000 = 0
  map 0x600000 = 0x10003000 P W U A D    # a kernel view of T (L1 table 0x10004000)
  read 0x400000 @shadow
`;

describe('the seed pattern (language.md example)', () => {
  const ex = readFileSync(join(__dirname, '../../examples/demand-fault.mmutrace'), 'utf8');

  test('zap: 3 exits from the fault on; update: 2', () => {
    for (const policy of ['zap', 'update'] as const) {
      const m = new Machine(program(ex), { policy, audit: 'full' });
      m.run();
      const s = m.summary('demand-fault.mmutrace');
      // Events: read (fill, shadows the table), read @fault (inject), pte (trapped: emulate),
      // read (zap: refault, fill; update: the entry was installed, no exit).
      expect(s.expectations).toEqual({ passed: 4, failed: 0 });
      expect(s.events).toBe(4);
      expect(s.faults).toBe(1);
      // The @fault leaf was never in the shadow: the trapped store clears nothing.
      expect(s.shadow.sptesZapped).toBe(0);
      // root + L3 + L2 + L1
      expect(s.shadow.pagesCreated).toBe(4);
      expect(s.shadow.pagesAlive).toBe(4);
      expect(s.audit.violations).toBe(0);
      if (policy === 'zap') {
        expect(s.exits).toEqual({ total: 4, pf: 4, fill: 2, inject: 1, emulate: 1, cr3: 0, invlpg: 0, npt: 0 });
        expect(s.shadow.sptesUpdated).toBe(0);
      } else {
        // cli.md's example of `run --json` under update.
        expect(s.exits).toEqual({ total: 3, pf: 3, fill: 1, inject: 1, emulate: 1, cr3: 0, invlpg: 0, npt: 0 });
        expect(s.shadow).toEqual({
          pagesCreated: 4, pagesZapped: 0, sptesZapped: 0, sptesUpdated: 1,
          floods: 0, unshadowed: 0, reclaimed: 0, overLimit: 0, pagesAlive: 4,
        });
      }
    }
  });

  for (const mode of ['32', 'pae', '64']) {
    test(`the same pattern in mode ${mode}`, () => {
      const t = `
        mode ${mode}
        space s
        map 0x400000 = 0
        map 0x401000 = 0x201000 P W U A D
        read 0x401000
        read 0x400000 @fault
        pte 0x400000 = 0x200000 P W U A D @p
        read 0x400000 @retry
      `;
      const z = trace(t, 'zap').run();
      const u = trace(t, 'update').run();
      const from = (r: typeof z) => r.recs.filter((x) => x.row >= r.at('fault').row).reduce((n, x) => n + x.exits, 0);
      expect(from(z)).toBe(3);
      expect(from(u)).toBe(2);
      expect(z.at('fault').fault).toBe(0x4);
      expect(u.at('p')).toMatchObject({ exits: 1, outcome: 'emulate', updated: 1, zapped: 0 });
      expect(z.at('p')).toMatchObject({ exits: 1, outcome: 'emulate', updated: 0, zapped: 0 });
      expect(z.at('retry')).toMatchObject({ exits: 1, outcome: 'fill' });
      expect(u.at('retry').exits).toBe(0);
      for (const r of [z, u]) expect(r.spte(0x400000)).toBe(spteOf(0x200, P | W | U | A | D));
    });
  }
});

describe('zap versus update', () => {
  test('a present entry: zap clears it, update installs the new one', () => {
    const t = base + 'pte 0x400000 = 0x205000 P W U A D @p\nread 0x400000 @r\n';
    const z = trace(t, 'zap');
    z.to('p');
    expect(z.at('p')).toMatchObject({ exits: 1, reason: 'page-fault', outcome: 'emulate', zapped: 1, updated: 0 });
    expect(z.spte(0x400000)).toBe(0n);
    z.run();
    expect(z.at('r')).toMatchObject({ exits: 1, outcome: 'fill' });
    expect(z.spte(0x400000)).toBe(spteOf(0x205, P | W | U | A | D));

    const u = trace(t, 'update');
    u.to('p');
    // The zap counts, and the install counts.
    expect(u.at('p')).toMatchObject({ exits: 1, outcome: 'emulate', zapped: 1, updated: 1 });
    expect(u.spte(0x400000)).toBe(spteOf(0x205, P | W | U | A | D));
    u.run();
    expect(u.at('r').exits).toBe(0);
    expect(u.stats).toMatchObject({ sptesZapped: 1, sptesUpdated: 1 });
  });

  test('update works at level 1 only', () => {
    for (const r of both(base + 'pte 0x400000 L2 = 0x10003000 P W U A @p\nread 0x400000 @r\n')) {
      r.run();
      // The L2 entry (in the L2 table 0x10002, shadowed) is zapped under both policies.
      expect(r.at('p')).toMatchObject({ exits: 1, outcome: 'emulate', zapped: 1, updated: 0 });
      expect(r.at('r')).toMatchObject({ exits: 1, outcome: 'fill' });
      // The L1 page of T was found again: root, L3, L2, L1 (T) and nothing else.
      expect(r.stats.pagesCreated).toBe(4);
    }
  });

  test('update needs P and A in the new entry', () => {
    const u = trace(
      base +
        `
        pte 0x400000 = 0x205000 P W U D @noA
        read 0x400000 @r
        pte 0x401000 = 0 @np
      `,
      'update',
    ).run();
    expect(u.at('noA')).toMatchObject({ exits: 1, zapped: 1, updated: 0 });
    expect(u.at('r')).toMatchObject({ exits: 1, outcome: 'fill' });
    expect(u.mem(0x10003000)).toBe(0x205067n); // the walk set A
    expect(u.at('np')).toMatchObject({ exits: 1, zapped: 0, updated: 0 }); // 0x401000 was not in the shadow
  });

  test('update: W and U from the leaf alone, read-only while not dirty or the target shadowed, NX from the entry', () => {
    const t =
      base +
      `
      pte 0x400000 = 0x205000 P W A D @noU
      read 0x403000                       # inject: resets the flood detector
      pte 0x401000 = 0x206000 P W U A @clean
      read 0x403000
      pte 0x402000 = 0x10003000 P W U A D @pt
      read 0x403000
      pte 0x400000 = 0x207000 P U A D NX @nx
    `;
    const u = trace(t, 'update');
    u.to('noU');
    expect(u.spte(0x400000)).toBe(spteOf(0x205, P | W | A | D));
    u.to('clean');
    expect(u.spte(0x401000)).toBe(spteOf(0x206, P | U | A));
    u.to('pt');
    expect(u.at('pt')).toMatchObject({ zapped: 0, updated: 1 });
    expect(u.spte(0x402000)).toBe(spteOf(0x10003, P | U | A | D));
    u.to('nx');
    expect(u.spte(0x400000)).toBe(spteOf(0x207, P | U | A | D, true));
    expect(u.stats).toMatchObject({ sptesUpdated: 4, floods: 0 });
    expect(u.violations).toEqual([]);

    const z = trace(t, 'zap').run();
    for (const va of [0x400000, 0x401000, 0x402000]) expect(z.spte(va)).toBe(0n);
    expect(z.stats).toMatchObject({ sptesUpdated: 0, floods: 0 });
  });

  test('an emulated write with no value runs kvm_mmu_pte_write with the bytes that are there', () => {
    const t = base + 'write 0x600000 kernel @kw\n';
    const u = trace(t, 'update').run();
    // The kernel write through the view of T lands on T's entry 0: emulate. No value: the
    // entry keeps 0x200067, which has P and A: update reinstalls it after the zap.
    expect(u.at('kw')).toMatchObject({ exits: 1, outcome: 'emulate', zapped: 1, updated: 1 });
    expect(u.spte(0x400000)).toBe(spteOf(0x200, P | W | U | A | D));
    expect(u.mem(0x10003000)).toBe(0x200067n);
    const z = trace(t, 'zap').run();
    expect(z.at('kw')).toMatchObject({ exits: 1, outcome: 'emulate', zapped: 1, updated: 0 });
    expect(z.spte(0x400000)).toBe(0n);
  });

  test('a store to a frame that is not shadowed does not exit', () => {
    for (const r of both(base + 'store 0x300000 = 0x1234 @s\npte 0x400000 L4 = 0x10001000 P W U A @l4\n')) {
      r.run();
      expect(r.at('s')).toMatchObject({ exits: 0, zapped: 0 });
      expect(r.mem(0x300000)).toBe(0x1234n);
      // The L4 table is the root: shadowed, the store exits (same value: the root entry is zapped).
      expect(r.at('l4')).toMatchObject({ exits: 1, outcome: 'emulate', zapped: 1 });
    }
  });
});

describe('PAE two-half pte write', () => {
  test('each half is trapped and zaps; neither is a whole entry: no update, the guest refaults', () => {
    for (const r of both(`
      mode pae
      space s
      map 0x400000 = 0x200000 P W U A D     # PDPT 0x10000000, dir 0x10001000, L1 0x10002000
      map 0x401000 = 0x201000 P W U A D
      read 0x400000
      pte 0x400000 = 0x205000 P W U A D NX size 4 offset 4 @hi
      pte 0x400000 = 0x205000 P W U A D NX size 4 offset 0 @lo
      read 0x400000 @r
    `)) {
      r.run();
      expect(r.at('hi')).toMatchObject({ exits: 1, outcome: 'emulate', zapped: 1, updated: 0 });
      expect(r.at('lo')).toMatchObject({ exits: 1, outcome: 'emulate', zapped: 0, updated: 0 });
      expect(r.mem(0x10002000)).toBe(0x8000000000205067n);
      expect(r.at('r')).toMatchObject({ exits: 1, outcome: 'fill' });
      expect(r.spte(0x400000)).toBe(spteOf(0x205, P | W | U | A | D, true));
      expect(r.stats).toMatchObject({ sptesUpdated: 0, floods: 0 });
    }
  });
});

describe('the flood detector', () => {
  test('the third consecutive trapped write to a frame zaps its pages', () => {
    for (const r of both(
      base +
        `
        pte 0x402000 = 0 @s1
        pte 0x402000 = 0 @s2
        pte 0x402000 = 0 @s3
        pte 0x402000 = 0 @s4
      `,
    )) {
      r.run();
      expect(r.at('s1')).toMatchObject({ exits: 1, zapped: 0 });
      expect(r.at('s2')).toMatchObject({ exits: 1, zapped: 0 });
      // flooded: zap the page of T: its parent entry (in the L2 page) and its one leaf (0x400000).
      expect(r.at('s3')).toMatchObject({ exits: 1, outcome: 'emulate', zapped: 2 });
      expect(r.stats).toMatchObject({ floods: 1, pagesZapped: 1 });
      expect(r.shadowed(0x10003000)).toBe(false);
      // T is not shadowed any more: the fourth store does not exit.
      expect(r.at('s4').exits).toBe(0);
    }
  });

  test('fill and inject reset the count', () => {
    for (const reset of ['read 0x401000', 'read 0x403000']) {
      for (const r of both(base + `pte 0x402000 = 0 @s1\npte 0x402000 = 0 @s2\n${reset} @x\npte 0x402000 = 0 @s3\n`)) {
        r.run();
        // @x exits with fill (0x401000 not in the shadow yet) or inject (0x403000 not present).
        expect(r.at('x').exits).toBe(1);
        expect(r.at('x').outcome).toBe(reset === 'read 0x401000' ? 'fill' : 'inject');
        expect(r.stats.floods).toBe(0);
        expect(r.shadowed(0x10003000)).toBe(true);
      }
    }
  });

  test('emulate does not reset the count (and counts as a write to its frame)', () => {
    for (const r of both(base + 'pte 0x402000 = 0 @s1\nwrite 0x600010 = 0 kernel @kw\npte 0x402000 = 0 @s3\n')) {
      r.run();
      expect(r.at('kw')).toMatchObject({ exits: 1, outcome: 'emulate' });
      // s1: count 1; kw (kernel write to T+0x10): count 2; s3: count 3, flooded.
      expect(r.stats.floods).toBe(1);
      expect(r.shadowed(0x10003000)).toBe(false);
    }
  });

  test('an access that completes in the shadow does not reset the count', () => {
    for (const r of both(base + 'pte 0x402000 = 0\npte 0x402000 = 0\nread 0x400000 @hit\npte 0x402000 = 0\n')) {
      r.run();
      expect(r.at('hit').exits).toBe(0);
      expect(r.stats.floods).toBe(1);
    }
  });

  test('the detector is per vCPU', () => {
    const t = base.replace('mode 64', 'mode 64\nvcpus 2') + `
      pte 0x402000 = 0          # vCPU 0: count 1
      vcpu 1
      pte 0x402000 = 0          # vCPU 1: count 1
      vcpu 0
      pte 0x402000 = 0          # vCPU 0: count 2
      vcpu 1
      pte 0x402000 = 0 @four    # vCPU 1: count 2
      vcpu 0
      pte 0x402000 = 0 @five    # vCPU 0: count 3, flooded
    `;
    for (const r of both(t)) {
      r.to('four');
      expect(r.stats.floods).toBe(0);
      r.to('five');
      expect(r.stats.floods).toBe(1);
    }
  });

  test('a flood on the root frame leaves the root alive, empty, keyed, shadowed and youngest', () => {
    // Three stores of the same value to the L4 entry (the root's frame): the third floods.
    for (const r of both(base + 'pte 0x400000 L4 = 0x10001000 P W U A\npte 0x400000 L4 = 0x10001000 P W U A\npte 0x400000 L4 = 0x10001000 P W U A @f\n')) {
      const root = r.m.mmu.vcpus[0]!.root!;
      r.run();
      expect(r.stats.floods).toBe(1);
      expect(r.at('f').exits).toBe(1);
      expect(root.alive).toBe(true);
      expect(root.presentCount()).toBe(0);
      expect(r.m.shadow.youngest).toBe(root);
      expect(r.shadowed(0x10000000)).toBe(true);
      expect(r.stats.pagesAlive).toBe(r.stats.pagesCreated); // nothing freed
    }
  });
});

describe('misaligned stores zap the page', () => {
  test('shorter than 4 bytes', () => {
    for (const r of both(base + 'store 0x10003010 = 0x55 size 2 @m\n')) {
      r.run();
      // T's page: its parent entry and leaf 0 cleared; the page is freed.
      expect(r.at('m')).toMatchObject({ exits: 1, outcome: 'emulate', zapped: 2, updated: 0 });
      expect(r.stats.pagesZapped).toBe(1);
      expect(r.shadowed(0x10003000)).toBe(false);
      expect(r.mem(0x10003010)).toBe(0x55n);
    }
  });

  test('crossing an 8-byte entry', () => {
    for (const r of both(base + 'store 0x1000300c = 0 size 8 @m\n')) {
      r.run();
      expect(r.at('m')).toMatchObject({ exits: 1, zapped: 2 });
      expect(r.stats.pagesZapped).toBe(1);
    }
  });

  test('4 bytes within one 8-byte entry are aligned: only that entry is zapped', () => {
    for (const r of both(base + 'read 0x401000\nstore 0x1000300c = 0 size 4 @m\n')) {
      r.run();
      expect(r.at('m')).toMatchObject({ exits: 1, zapped: 1, updated: 0 });
      expect(r.stats.pagesZapped).toBe(0);
      expect(r.spte(0x401000)).toBe(0n);
      expect(r.spte(0x400000)).toBe(spteOf(0x200, P | W | U | A | D));
    }
  });

  test('mode 32: 4 bytes crossing a 4-byte entry', () => {
    for (const r of both(`
      mode 32
      space s
      map 0x400000 = 0x200000 P W U A D     # dir 0x10000000, L1 0x10001000
      map 0x401000 = 0x201000 P W U A D
      read 0x400000
      store 0x10001002 = 0 size 4 @m
    `)) {
      r.run();
      // the quadrant-0 level-1 page of 0x10001: its parent entry in root q0 and its leaf
      expect(r.at('m')).toMatchObject({ exits: 1, zapped: 2 });
      expect(r.stats.pagesZapped).toBe(1);
      expect(r.shadowed(0x10001000)).toBe(false);
    }
  });
});

describe('mode 32: PDE doubling and quadrants', () => {
  const t = `
    mode 32
    space s
    map 0x0 = 0x200000 P W U A D            # dir 0x10000000, L1 0x10001000 (PDE 0)
    map 0x200000 = 0x300000 P W U A D       # upper half of the same table
    map 0x40000000 = 0x400000 P W U A D     # PDE 256 (offset 0x400): L1 0x10002000
    read 0x0
    read 0x200000
    read 0x40000000
    pte 0x0 L2 = 0x10001000 P W U A @pde0
    read 0x40000000 @still
    read 0x0 @refill
    pte 0x40000000 L2 = 0x10002000 P W U A @pde256
    read 0x0 @still0
    read 0x200000 @refill2
    pte 0x200000 = 0x305000 P W U A D @l1q1
  `;

  test('a PDE store zaps two shadow entries, in the root of its quadrant only', () => {
    for (const r of both(t)) {
      r.to('pde0');
      // offset 0 -> shadow entries 0 and 1 of the quadrant-0 root (each 2 MiB), both present.
      expect(r.at('pde0')).toMatchObject({ exits: 1, outcome: 'emulate', zapped: 2, updated: 0 });
      expect(r.spte(0x0, 2)).toBe(0n);
      expect(r.spte(0x200000, 2)).toBe(0n);
      expect(r.spte(0x40000000, 2)).not.toBe(0n);
      r.to('still');
      expect(r.at('still').exits).toBe(0);
      r.to('pde256');
      // offset 0x400 -> quadrant 1, entries 0 and 1; only entry 0 is present. Quadrant 0 skipped.
      expect(r.at('pde256')).toMatchObject({ exits: 1, zapped: 1 });
      expect(r.spte(0x0, 2)).not.toBe(0n);
      r.to('still0');
      expect(r.at('still0').exits).toBe(0);
      r.to('l1q1');
      // L1 entry 512 (offset 0x800): the quadrant-1 page of the table; quadrant 0 skipped.
      expect(r.at('l1q1')).toMatchObject({ exits: 1, zapped: 1 });
      expect(r.spte(0x0)).toBe(spteOf(0x200, P | W | U | A | D));
      expect(r.spte(0x200000)).toBe(r.m.policy.name === 'update' ? spteOf(0x305, P | W | U | A | D) : 0n);
      // The two shadow pages of the L1 table are quadrants 0 and 1 of frame 0x10001.
      expect(r.pagesOf(0x10001).map((p) => p.role.quadrant).sort()).toEqual([0, 1]);
    }
  });
});
