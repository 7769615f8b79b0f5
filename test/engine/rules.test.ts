// engine.md: shadow roots, fetch (page creation, write protection,
// metaphysical pages), emulate and unshadow, cr3, invlpg, reclaim, over-limit,
// several vCPUs. Every expected value is worked out from engine.md in the
// comment next to it.
//
// Pool layout (language.md): `space` takes its root from the pool
// (0x10000000 upward), then each `map` takes the missing tables top-down.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { LIVELOCK_FILLS, Machine, buildGuestImage } from '../../src/engine';
import { buildTrace, buildTraceWithModel, planArb } from './gen';
import { A, D, P, U, W, both, program, spteOf, trace } from './helpers';

describe('shadow roots', () => {
  test('mode 64: one level-4 root per CR3, shared by the vCPUs, built before the first event and counted', () => {
    for (const r of both(`
      mode 64
      vcpus 3
      space a
      map 0x400000 = 0x200000 P W U A D
      space b
      map 0x400000 = 0x300000 P W U A D
      invlpg 0
    `)) {
      // Before any event: every vCPU's root is the level-4 page of a's root frame 0x10000.
      expect(r.stats.pagesCreated).toBe(1);
      expect(r.stats.pagesAlive).toBe(1);
      expect(r.exits.total).toBe(0);
      const roots = r.m.mmu.vcpus.map((v) => v.root);
      expect(new Set(roots).size).toBe(1);
      expect(roots[0]!.gfn).toBe(0x10000);
      expect(roots[0]!.role.level).toBe(4);
      expect(roots[0]!.role.glevels).toBe(4);
      expect(roots[0]!.rootCount).toBe(3);
      expect(r.shadowed(0x10000000)).toBe(true);
    }
  });

  test('mode 32: four level-2 roots, the quadrants of the guest directory', () => {
    const r = trace(`
      mode 32
      vcpus 2
      space a
      map 0x400000 = 0x200000 P W U A D
      invlpg 0
    `);
    expect(r.stats.pagesCreated).toBe(4);
    const v = r.m.mmu.vcpus[0]!;
    expect(v.paeRoot.map((p) => p?.gfn)).toEqual([0x10000, 0x10000, 0x10000, 0x10000]);
    expect(v.paeRoot.map((p) => p?.role.quadrant)).toEqual([0, 1, 2, 3]);
    expect(v.paeRoot.every((p) => p?.role.level === 2 && p.role.glevels === 2)).toBe(true);
    // vCPU 1 shares them.
    expect(r.m.mmu.vcpus[1]!.paeRoot).toEqual(v.paeRoot);
    // spte(VA, 3) in modes 32 and pae is the PAE root's entry (host frame of the root page | P).
    expect(r.spte(0x400000, 3) & 1n).toBe(1n);
  });

  test('mode pae: one level-2 root per present PDPTE, keyed by its directory', () => {
    const r = trace(`
      mode pae
      space a
      map 0x400000 = 0x200000 P W U A D      # PDPTE 0 -> directory 0x10001000
      map 0xc0000000 = 0x300000 P W U A D    # PDPTE 3 -> directory 0x10003000
      invlpg 0
    `);
    // PDPT 0x10000000, dir 0x10001000, L1 0x10002000, dir 0x10003000, L1 0x10004000.
    expect(r.stats.pagesCreated).toBe(2);
    const v = r.m.mmu.vcpus[0]!;
    expect(v.paeRoot.map((p) => p?.gfn ?? null)).toEqual([0x10001, null, null, 0x10003]);
    expect(v.paeRoot[0]!.role.glevels).toBe(3);
    expect(v.paeRoot[0]!.role.quadrant).toBe(0);
    // The PDPT itself is not shadowed.
    expect(r.shadowed(0x10000000)).toBe(false);
  });
});

describe('fetch', () => {
  test('creates each missing shadow page top-down, keyed by the guest table frames', () => {
    for (const r of both(`
      mode 64
      space s
      map 0x400000 = 0x200000 P W U A D
      map 0x401000 = 0x201000 P W U A D
      map 0x600000 = 0x300000 P W U A D
      read 0x400000 @a
      read 0x401000 @b
      read 0x600000 @c
    `)) {
      // L4 0x10000000, L3 0x10001000, L2 0x10002000, L1 0x10003000 (0x400000), L1 0x10004000 (0x600000)
      r.to('a');
      // root + L3 + L2 + L1 = 4 pages
      expect(r.stats.pagesCreated).toBe(4);
      const levels = [0x10001, 0x10002, 0x10003].map((g) => r.pagesOf(g).map((p) => p.role.level));
      expect(levels).toEqual([[3], [2], [1]]);
      expect(r.at('a').outcome).toBe('fill');
      r.to('b');
      expect(r.stats.pagesCreated).toBe(4); // same L1 table: nothing new
      expect(r.at('b').exits).toBe(1); // its leaf was not present in the shadow
      r.to('c');
      expect(r.stats.pagesCreated).toBe(5); // a new L1 table
      expect(r.exits.fill).toBe(3);
      // Age order: allocation order, oldest first.
      expect(r.m.shadow.pages().map((p) => p.gfn)).toEqual([0x10000, 0x10001, 0x10002, 0x10003, 0x10004]);
    }
  });

  test('a newly shadowed frame is write-protected at once; kernel write emulates; user write unshadows', () => {
    const text = `
      mode 64
      space s
      map 0x400000 = 0x200000 P W U A D         # L3 0x10001000, L2 0x10002000, L1 0x10003000
      map 0x600000 = 0x10010000 P W U A D       # a data view of frame 0x10010 (L1 table 0x10004000)
      map 0x800000 L2 = 0x10010000 P W U A      # which is also the L1 table of 0x800000
      poke 0x10010000 = 0x300067                # its entry 0: 0x800000 -> 0x300000 P W U A D
      write 0x600800 = 5 @w1
      read 0x800000 @r
      write 0x600808 = 6 kernel @kw
      write 0x600810 = 7 @uw
      read 0x800000 @again
    `;
    for (const r of both(text)) {
      r.to('w1');
      // 0x10010 is not shadowed: fill, leaf writable (dirty, every level W).
      expect(r.at('w1').outcome).toBe('fill');
      expect(r.spte(0x600000)).toBe(spteOf(0x10010, P | W | U | A | D));
      expect(r.mem(0x10010800)).toBe(5n);
      expect(r.stats.pagesCreated).toBe(4); // root, L3, L2, L1 0x10004
      r.to('r');
      // The walk of 0x800000 goes through table 0x10010: a level-1 shadow page of it is
      // created, and every leaf that maps 0x10010 loses W at once.
      expect(r.stats.pagesCreated).toBe(5);
      expect(r.shadowed(0x10010000)).toBe(true);
      expect(r.spte(0x600000)).toBe(spteOf(0x10010, P | U | A | D));
      expect(r.spte(0x800000)).toBe(spteOf(0x300, P | W | U | A | D));
      r.to('kw');
      // Kernel write to a shadowed frame: one exit, emulate; the store lands.
      expect(r.at('kw').exits).toBe(1);
      expect(r.at('kw').outcome).toBe('emulate');
      expect(r.mem(0x10010808)).toBe(6n);
      expect(r.shadowed(0x10010000)).toBe(true);
      expect(r.spte(0x600000)).toBe(spteOf(0x10010, P | U | A | D)); // still read-only
      r.to('uw');
      // User write to a shadowed frame: unshadow (the level-1 page of 0x10010 is zapped:
      // its parent entry in the L2 page and its one present leaf are cleared), the leaf
      // becomes writable, the store completes. Outcome fill, one exit.
      expect(r.at('uw').exits).toBe(1);
      expect(r.at('uw').outcome).toBe('fill');
      expect(r.stats.unshadowed).toBe(1);
      expect(r.stats.pagesZapped).toBe(1);
      expect(r.stats.sptesZapped).toBe(2);
      expect(r.at('uw').zapped).toBe(2);
      expect(r.shadowed(0x10010000)).toBe(false);
      expect(r.spte(0x600000)).toBe(spteOf(0x10010, P | W | U | A | D));
      expect(r.spte(0x800000, 2)).toBe(0n);
      expect(r.mem(0x10010810)).toBe(7n);
      expect(r.stats.pagesAlive).toBe(4);
      r.to('again');
      // The table is shadowed again (a new page), and the data view loses W again.
      expect(r.at('again').exits).toBe(1);
      expect(r.stats.pagesCreated).toBe(6);
      expect(r.spte(0x600000)).toBe(spteOf(0x10010, P | U | A | D));
      // fill: w1, r, uw, again; emulate: kw
      expect(r.exits).toMatchObject({ total: 5, pf: 5, fill: 4, emulate: 1, inject: 0, cr3: 0 });
    }
  });

  test('user write to a frame kept shadowed by a root in use: each retry zaps the root once, reports a hang; 4 fills are a livelock', () => {
    for (const r of both(`
      mode 64
      space s
      map 0x400000 = 0x200000 P W U A D
      map 0x600000 = 0x10000000 P W U A D   # a data view of the L4 table (the root)
      read 0x600000 @r
      write 0x600800 = 9 @uw
      read 0x600000 @again
    `)) {
      r.to('r');
      // The L4 frame is shadowed by the root: the leaf is read-only.
      expect(r.spte(0x600000)).toBe(spteOf(0x10000, P | U | A | D));
      const root = r.m.mmu.vcpus[0]!.root!;
      r.to('uw');
      // Each exit: fetch finds the leaf present (recorded access W U: every level P W U A);
      // fix_write_pf unshadows 0x10000: the root, in use, is emptied (its one entry, to the
      // L3 page, cleared), stays keyed and shadowed (a hang: 2007's loop would find it again),
      // and the leaf is not made writable. The retry exits again (the root is empty): fetch
      // links the L3 page again, and so on: 4 fill exits in a row, a livelock.
      expect(r.at('uw').exitLog).toEqual(['page-fault:fill', 'page-fault:fill', 'page-fault:fill', 'page-fault:fill']);
      expect(r.at('uw').incidents).toEqual(['hang', 'hang', 'hang', 'hang', 'livelock']);
      expect(r.m.summary('t')).toMatchObject({ livelocks: 1, hangs: 4 });
      expect(r.stats.unshadowed).toBe(4);
      expect(r.stats.pagesZapped).toBe(4);
      expect(r.stats.sptesZapped).toBe(4);
      expect(root.alive).toBe(true);
      expect(root.presentCount()).toBe(0);
      expect(r.m.shadow.youngest).toBe(root);
      expect(r.shadowed(0x10000000)).toBe(true);
      expect(r.pagesOf(0x10000)).toEqual([root]);
      // The event completes as the guest walk says: the store lands.
      expect(r.at('uw').ok).toBe(true);
      expect(r.mem(0x10000800)).toBe(9n);
      // The path is gone; the shadow leaf page itself survives (not a page of 0x10000).
      expect(r.spte(0x600000)).toBe(-1n);
      r.to('again');
      // Refault: the L3 page is found and linked again (no new page); the leaf is still there.
      expect(r.at('again').exitLog).toEqual(['page-fault:fill']);
      expect(r.stats.pagesCreated).toBe(4);
      expect(r.spte(0x600000)).toBe(spteOf(0x10000, P | U | A | D));
    }
  });
});

describe('a page table that maps itself', () => {
  // Leaf 0 of T = 0x10003000 maps T: the fetch for a write through it shadows T, and the
  // target frame is then shadowed (the check follows the fetch, as set_pte_common did).
  const t = (cpl: string) => `
    mode 64
    space s
    map 0x400000 = 0x10003000 P W U A D
    write 0x400800 = 5 ${cpl} @w
    read 0x400000 @again
  `;

  test('kernel write: emulate', () => {
    for (const r of both(t('kernel'))) {
      r.run();
      expect(r.at('w')).toMatchObject({ exits: 1, outcome: 'emulate' });
      expect(r.mem(0x10003800)).toBe(5n);
      expect(r.stats.pagesCreated).toBe(4);
      expect(r.spte(0x400000)).toBe(spteOf(0x10003, P | U | A | D));
      expect(r.at('again').exits).toBe(0);
    }
  });

  test('user write: unshadow zaps the page the fetch just built, the retry shadows it again: a livelock', () => {
    for (const r of both(t('user'))) {
      r.to('w');
      // Exit 1: fetch builds L3, L2 and T's L1 page (4 pages with the root); the leaf maps T,
      // now shadowed: read-only. fix_write_pf (recorded W U) unshadows T: T's page is zapped
      // (its parent entry in L2 and its leaf: 2 sptes) and freed, the leaf is gone. Exits 2 to 4:
      // the L2 entry is empty, fetch allocates a new page of T (pages 5, 6, 7) and the same
      // happens. 4 fills in a row: a livelock; the store lands as the guest walk says.
      expect(r.at('w').exitLog).toEqual(['page-fault:fill', 'page-fault:fill', 'page-fault:fill', 'page-fault:fill']);
      expect(r.at('w').incidents).toEqual(['livelock']);
      expect(r.stats).toMatchObject({ unshadowed: 4, pagesZapped: 4, pagesCreated: 7, pagesAlive: 3 });
      expect(r.at('w').zapped).toBe(8);
      expect(r.mem(0x10003800)).toBe(5n);
      expect(r.m.summary('t')).toMatchObject({ livelocks: 1, hangs: 0 });
      // the path is gone: refault, T shadowed again (an eighth page), read-only leaf serves the read
      r.to('again');
      expect(r.at('again')).toMatchObject({ exits: 1, outcome: 'fill' });
      expect(r.stats.pagesCreated).toBe(8);
    }
  });
});

describe('metaphysical pages for large guest pages', () => {
  test('2 MiB (mode 64): a level-1 metaphysical page keyed by the base frame, not write-protected', () => {
    for (const r of both(`
      mode 64
      space s
      map 0x40000000 L2 = 0x400000 P W U A D PS    # L3 0x10001000, L2 0x10002000
      read 0x40003000
      read 0x40005000 @second
    `)) {
      r.run();
      // root, L3 (0x10001), L2 (0x10002), metaphysical L1 (0x400) = 4
      expect(r.stats.pagesCreated).toBe(4);
      const m = r.pagesOf(0x400);
      expect(m).toHaveLength(1);
      expect(m[0]!.role).toMatchObject({ level: 1, metaphysical: true, hugepageAccess: 3 });
      expect(r.shadowed(0x400000)).toBe(false);
      // 0x40003000 -> gfn 0x403 -> host frame 0x100403
      expect(r.spte(0x40003000)).toBe(spteOf(0x403, P | W | U | A | D));
      expect(r.spte(0x40005000)).toBe(spteOf(0x405, P | W | U | A | D));
      expect(r.at('second').exits).toBe(1);
    }
  });

  test('hugepage_access holds the large entry W and U: a read-only alias gets its own page', () => {
    for (const r of both(`
      mode pae
      space s
      map 0x400000 L2 = 0x800000 P W U A D PS
      map 0x600000 L2 = 0x800000 P U A D PS
      read 0x400000
      read 0x600000
    `)) {
      r.run();
      const m = r.pagesOf(0x800);
      // two pages of gfn 0x800: access W|U (3) and U (2)
      expect(m.map((p) => p.role.hugepageAccess).sort()).toEqual([2, 3]);
      expect(r.spte(0x600000)).toBe(spteOf(0x800, P | U | A | D));
      expect(r.spte(0x400000)).toBe(spteOf(0x800, P | W | U | A | D));
    }
  });

  test('1 GiB (mode 64): a metaphysical level-2 page keyed by the base frame, level-1 pages per 2 MiB', () => {
    for (const r of both(`
      mode 64
      space s
      map 0x40000000 L3 = 0x40000000 P W U A D PS    # L3 table 0x10001000
      read 0x40203000 @a
      read 0x40003000 @b
    `)) {
      r.to('a');
      // root, L3 (0x10001), metaphysical L2 (0x40000), metaphysical L1 (0x40000 + 512 = 0x40200)
      expect(r.stats.pagesCreated).toBe(4);
      const l2 = r.pagesOf(0x40000);
      expect(l2.map((p) => p.role)).toEqual([expect.objectContaining({ level: 2, metaphysical: true, hugepageAccess: 3 })]);
      const l1 = r.pagesOf(0x40200);
      expect(l1.map((p) => p.role)).toEqual([expect.objectContaining({ level: 1, metaphysical: true, hugepageAccess: 3 })]);
      expect(r.spte(0x40203000)).toBe(spteOf(0x40203, P | W | U | A | D));
      r.to('b');
      // the first 2 MiB: a level-1 page keyed by 0x40000 (same frame as the level-2 page, other level)
      expect(r.stats.pagesCreated).toBe(5);
      expect(r.pagesOf(0x40000).map((p) => p.role.level).sort()).toEqual([1, 2]);
      expect(r.spte(0x40003000)).toBe(spteOf(0x40003, P | W | U | A | D));
      expect(r.shadowed(0x40000000)).toBe(false);
    }
  });

  test('4 MiB (mode 32): the two halves are the two quadrants of one page keyed by the base frame', () => {
    for (const r of both(`
      mode 32
      space s
      map 0x800000 L2 = 0x400000 P W U A D PS
      read 0x800000
      read 0xa01000
    `)) {
      r.run();
      // 4 roots + 2 metaphysical level-1 pages (quadrants 0 and 1 of gfn 0x400)
      expect(r.stats.pagesCreated).toBe(6);
      const m = r.pagesOf(0x400);
      expect(m.map((p) => p.role.quadrant).sort()).toEqual([0, 1]);
      expect(m.every((p) => p.role.metaphysical && p.role.level === 1 && p.role.glevels === 2)).toBe(true);
      // 0xa01000 is 2 MiB + 4 KiB into the page: gfn 0x400 + 0x201
      expect(r.spte(0xa01000)).toBe(spteOf(0x601, P | W | U | A | D));
      expect(r.spte(0x800000)).toBe(spteOf(0x400, P | W | U | A | D));
    }
  });
});

describe('cr3', () => {
  const two = `
    mode 64
    space a
    map 0x400000 = 0x200000 P W U A D
    space b
    map 0x400000 = 0x300000 P W U A D
  `;
  // a: root 0x10000000, L3 0x10001000, L2 0x10002000, L1 0x10003000
  // b: root 0x10004000, L3 0x10005000, L2 0x10006000, L1 0x10007000

  test('one exit; shadow pages persist and are reused on return', () => {
    for (const r of both(
      two +
        `
        read 0x400000 @ra
        cr3 b @sb
        read 0x400000 @rb
        cr3 a @sa
        read 0x400000 @ra2
      `,
    )) {
      r.run();
      expect(r.at('sb')).toMatchObject({ exits: 1, reason: 'cr3' });
      expect(r.at('sa')).toMatchObject({ exits: 1, reason: 'cr3' });
      // root a + 3, root b + 3; the return to a creates nothing
      expect(r.stats.pagesCreated).toBe(8);
      expect(r.at('ra2').exits).toBe(0);
      expect(r.at('ra2').ok).toBe(true);
      expect(r.spte(0x400000)).toBe(spteOf(0x200, P | W | U | A | D));
      expect(r.exits).toMatchObject({ total: 4, pf: 2, fill: 2, cr3: 2 });
      expect(r.m.mmu.vcpus[0]!.cr3).toBe(0x10000000);
    }
  });

  test('the old roots are released first, then reclaim runs, then the new roots are built', () => {
    // 23 regions of 2 MiB in space a, each with its own L1 table; b has one page.
    const maps = Array.from({ length: 23 }, (_, i) => `map ${(i + 1) * 0x200000} = ${0x200000 + i * 0x1000} P W U A D`).join('\n');
    const reads = Array.from({ length: 23 }, (_, i) => `read ${(i + 1) * 0x200000}`).join('\n');
    for (const r of both(`mode 64\nshadow-pages 30\nspace a\n${maps}\nspace b\nmap 0x400000 = 0x300000 P W U A D\n${reads}\ncr3 b @sb\n`)) {
      const rootA = r.m.mmu.vcpus[0]!.root!;
      r.to('sb');
      // Before @sb: root a, L3, L2 and 23 L1 pages = 26 alive, 4 free. mmu_free_roots drops
      // root a's count to 0; then reclaim zaps the oldest until 25 are free: root a (no longer
      // in use: freed), L3, L2 and the L1 pages of regions 1..18 (21 pages) -> 5 alive. Then
      // root b is built: 6 alive. (Had reclaim run first, root a, in use, would have been
      // emptied and kept.)
      expect(r.at('sb').exitLog).toEqual(['cr3']);
      expect(r.stats).toMatchObject({ reclaimed: 21, pagesZapped: 21, pagesAlive: 6, pagesCreated: 27 });
      expect(rootA.alive).toBe(false);
      expect(r.m.summary('t').hangs).toBe(0);
      expect(r.m.mmu.vcpus[0]!.root!.gfn).toBe(0x1001a); // b's root: after a's 26 pool pages
    }
  });
});

describe('invlpg', () => {
  test('no exit and nothing to do', () => {
    for (const r of both(`
      mode 64
      space s
      map 0x400000 = 0x200000 P W U A D
      read 0x400000
      invlpg 0x400000 @i
    `)) {
      r.run();
      expect(r.at('i')).toMatchObject({ exits: 0, zapped: 0, updated: 0, fault: -1 });
      expect(r.exits).toMatchObject({ total: 1, invlpg: 0 });
      expect(r.spte(0x400000)).toBe(spteOf(0x200, P | W | U | A | D));
      expect(r.m.summary('t').events).toBe(2);
    }
  });
});

describe('reclaim (kvm_mmu_free_some_pages)', () => {
  // 24 regions of 2 MiB, each with its own L1 table: L4 0x10000000, L3 0x10001000,
  // L2 0x10002000, then L1 of region k (VA k * 2 MiB) at 0x10002000 + k * 0x1000.
  const maps = Array.from({ length: 24 }, (_, i) => `map ${(i + 1) * 0x200000} = ${0x200000 + i * 0x1000} P W U A D`).join('\n');
  const reads = Array.from({ length: 24 }, (_, i) => `read ${(i + 1) * 0x200000} @r${i + 1}`).join('\n');

  test('fewer than 5 free: the oldest pages are zapped until 25 are free, a root in use emptied and made the youngest', () => {
    for (const r of both(`mode 64\nshadow-pages 30\nspace s\n${maps}\n${reads}\nread ${20 * 0x200000} @again\n`)) {
      const root = r.m.mmu.vcpus[0]!.root!;
      r.to('r23');
      // root + L3 + L2 + 23 L1 pages = 26 alive: 4 free. No reclaim so far (5 were free before @r23).
      expect(r.stats).toMatchObject({ pagesAlive: 26, reclaimed: 0, pagesCreated: 26 });
      r.to('r24');
      // 4 < 5 free: zap the oldest until 30 - alive = 25. The oldest is the root, in use: emptied
      // (its entry to L3 cleared) and made the youngest, not freed. Then L3, L2 and the L1 pages
      // of regions 1..19 are freed (21 pages) -> 5 alive; 22 zaps in all. Then fetch builds L3,
      // L2 and the L1 of region 24 again: 8 alive.
      expect(r.stats).toMatchObject({ reclaimed: 22, pagesZapped: 22, pagesAlive: 8, pagesCreated: 29 });
      expect(root.alive).toBe(true);
      expect(r.m.mmu.vcpus[0]!.root).toBe(root);
      // sptesZapped: the root's entry to L3 (1), L3's entry to L2 (1), L2's 23 entries, each
      // L1 zap its one leaf (19): 44.
      expect(r.stats.sptesZapped).toBe(44);
      expect(r.m.summary('t').hangs).toBe(0);
      for (let k = 1; k <= 24; k++) expect(r.pagesOf(0x10002 + k).length, `region ${k}`).toBe(k <= 19 ? 0 : 1);
      r.to('again');
      // Region 20's L1 page survived, orphaned: the new L2 page has no entry for region 20,
      // so one exit (fill); fetch finds the page by frame and role and links it: no new page.
      expect(r.at('again').exits).toBe(1);
      expect(r.stats.pagesCreated).toBe(29);
    }
  });

  test('a pool too small for its roots: reclaim stops at a hang, and a fetch goes past the limit', () => {
    for (const r of both(`
      mode 64
      shadow-pages 2
      space s
      map 0x400000 = 0x200000 P W U A D
      map 0x600000 = 0x300000 P W U A D
      read 0x400000 @a
      read 0x600000 @b
      cr3 s @c
    `)) {
      r.to('a');
      // 1 free < 5: the oldest page is the root, in use: emptied and made the youngest; it is
      // then the oldest again, already emptied: only roots in use are left, a hang. Fetch then
      // allocates L3, L2, L1 -> 4 alive, 2 over the limit.
      expect(r.at('a').incidents).toEqual(['hang']);
      expect(r.stats).toMatchObject({ overLimit: 2, pagesAlive: 4, reclaimed: 1, pagesZapped: 1 });
      r.to('b');
      // Age order root, L3, L2, L1: the root is emptied (its entry to L3: 1 spte), L3, L2 and
      // L1 freed, then the root again: a hang. Fetch allocates L3, L2 and the L1 of 0x600000.
      expect(r.at('b').incidents).toEqual(['hang']);
      expect(r.stats).toMatchObject({ overLimit: 2, pagesAlive: 4, reclaimed: 5, pagesCreated: 7 });
      r.to('c');
      // The root is released first (count 0): reclaim frees root, L3, L2, L1; no page is left
      // and only 2 are free: a hang. The root of s is built again: a new page.
      expect(r.at('c').incidents).toEqual(['hang']);
      expect(r.stats).toMatchObject({ overLimit: 2, pagesAlive: 1, reclaimed: 9, pagesCreated: 8 });
      expect(r.m.summary('t')).toMatchObject({ hangs: 3, livelocks: 0 });
    }
  });

  test('a trapped store whose frame the exit\'s own reclaim unshadowed is a fill: no kvm_mmu_pte_write, the flood detector resets', () => {
    const reads22 = Array.from({ length: 22 }, (_, i) => `read ${(i + 1) * 0x200000}`).join('\n');
    for (const r of both(`mode 64\nshadow-pages 30\nspace s\n${maps}\n${reads22}
pte 0x202000 = 0x206000 P W U A D @p1
read ${23 * 0x200000} @r23
pte 0x201000 = 0x205000 P W U A D @p
`)) {
      r.to('p1');
      // 25 alive, 5 free: no reclaim. Region 1's L1 table 0x10003 is shadowed: emulate, and
      // kvm_mmu_pte_write counts the store.
      expect(r.at('p1').exitLog).toEqual(['page-fault:emulate']);
      expect(r.m.mmu.vcpus[0]!).toMatchObject({ lastPtWriteGfn: 0x10003, lastPtWriteCount: 1 });
      r.to('r23');
      expect(r.stats.pagesAlive).toBe(26);
      const updated = r.stats.sptesUpdated;
      r.to('p');
      // 4 free < 5: reclaim zaps the root (emptied), L3, L2 and the L1 pages of regions 1..19:
      // 0x10003 is no longer shadowed. Nothing to emulate: one exit, fill, the store lands,
      // kvm_mmu_pte_write does not run (nothing updated), the flood detector resets.
      expect(r.at('p').exitLog).toEqual(['page-fault:fill']);
      expect(r.stats.reclaimed).toBe(22);
      expect(r.shadowed(0x10003000)).toBe(false);
      expect(r.stats.sptesUpdated).toBe(updated);
      expect(r.mem(0x10003008)).toBe(0x205067n);
      expect(r.m.mmu.vcpus[0]!.lastPtWriteCount).toBe(0);
      expect(r.m.mmu.exits).toMatchObject({ emulate: 1, fill: 24 });
    }
  });
});

describe('several vCPUs share the shadow', () => {
  test('a page filled by one vCPU serves another; a store by one is seen by the other', () => {
    const text = `
      mode 64
      vcpus 2
      space s
      map 0x400000 = 0x200000 P W U A D
      map 0x401000 = 0x201000 P W U A D
      read 0x400000 @a0
      vcpu 1
      read 0x400000 @a1
      pte 0x400000 = 0x202000 P W U A D @p1
      vcpu 0
      read 0x400000 @b0
    `;
    const z = trace(text, 'zap').run();
    const u = trace(text, 'update').run();
    for (const r of [z, u]) {
      expect(r.at('a0').exits).toBe(1);
      expect(r.at('a1').exits).toBe(0); // same root page, leaf already there
      expect(r.at('p1')).toMatchObject({ exits: 1, outcome: 'emulate' });
      expect(r.spte(0x400000)).toBe(spteOf(0x202, P | W | U | A | D));
    }
    // zap: vCPU 0 refaults; update: the store of vCPU 1 installed the new entry for both.
    expect(z.at('b0').exits).toBe(1);
    expect(u.at('b0').exits).toBe(0);
  });

  test('cpl in the setup sets every vCPU; after the setup, the current vCPU only', () => {
    for (const r of both(`
      mode 64
      vcpus 2
      cpl kernel
      space s
      map 0x400000 = 0x200000 P W A D
      vcpu 1
      cpl user
      read 0x400000 @u1
      vcpu 0
      read 0x400000 @k0
    `)) {
      r.run();
      expect(r.at('u1').fault).toBe(0x5); // user read of a supervisor page
      expect(r.at('k0').ok).toBe(true);
    }
  });

  test('vCPUs on different spaces each have their roots', () => {
    for (const r of both(`
      mode 32
      vcpus 2
      space a
      map 0x400000 = 0x200000 P W U A D
      space b
      map 0x400000 = 0x300000 P W U A D
      vcpu 1
      cr3 b
      read 0x400000 @b1
      vcpu 0
      read 0x400000 @a0
    `)) {
      r.run();
      // 4 roots of a; cr3 b on vCPU 1 adds 4 roots of b; each read adds one level-1 page.
      expect(r.stats.pagesCreated).toBe(10);
      expect(r.spte(0x400000)).toBe(spteOf(0x200, P | W | U | A | D));
      expect(r.m.mmu.vcpus[1]!.paeRoot[0]!.gfn).toBe(0x10002); // b's directory
    }
  });
});

describe('counting (engine.md, "Counting")', () => {
  test('random traces: the counters add up', () => {
    fc.assert(
      fc.property(planArb({ maxEvents: 40 }), fc.constantFrom('zap', 'update'), (plan, policy) => {
        const prog = program(buildTrace(plan, { linux: plan.setup[1]! % 2 === 0 }));
        const m = new Machine(prog, { policy, audit: 'incremental' });
        let exits = 0;
        let zapped = 0;
        let updated = 0;
        let injected = 0;
        let livelocks = 0;
        while (m.step()) {
          if (!m.isEventRow(m.row)) continue;
          exits += m.last.exits;
          // engine.md, "The retry": an access takes at most 4 fill exits in a row; exactly those
          // 4 (and nothing else) are a livelock.
          const log = m.mmu.eventExits.map((x) => x.outcome ?? x.reason);
          const livelocked = m.mmu.incidents.some((x) => x.kind === 'livelock');
          expect(livelocked).toBe(log.length === LIVELOCK_FILLS && log.every((o) => o === 'fill'));
          if (livelocked) livelocks++;
          zapped += m.last.zapped;
          updated += m.last.updated;
          if (m.last.fault >= 0) injected++;
          expect(m.last.exits).toBeLessThanOrEqual(LIVELOCK_FILLS);
          expect(m.mmu.eventExits.length).toBe(m.last.exits);
          if (m.error) break;
        }
        const s = m.summary('f');
        const e = s.exits;
        expect(e.total).toBe(e.pf + e.cr3 + e.invlpg);
        expect(e.pf).toBe(e.fill + e.inject + e.emulate);
        expect(e.invlpg).toBe(0);
        expect(s.faults).toBe(e.inject);
        expect(injected).toBe(e.inject);
        expect(exits).toBe(e.total);
        expect(zapped).toBe(s.shadow.sptesZapped);
        expect(updated).toBe(s.shadow.sptesUpdated);
        if (policy === 'zap') expect(s.shadow.sptesUpdated).toBe(0);
        expect(s.shadow.pagesAlive).toBe(m.shadow.pages().length);
        // every freed page was zapped first; reclaim only zaps
        expect(s.shadow.pagesCreated - s.shadow.pagesAlive).toBeLessThanOrEqual(s.shadow.pagesZapped);
        expect(s.shadow.reclaimed).toBeLessThanOrEqual(s.shadow.pagesZapped);
        expect(s.shadow.overLimit).toBe(Math.max(0, s.shadow.overLimit));
        expect(s.audit.violations).toBe(m.auditor!.violations.length);
        expect(s.livelocks).toBe(livelocks);
        expect(s.livelocks + s.hangs).toBe(m.incidents.length);
      }),
      { numRuns: 100 },
    );
  });
});

describe('the setup (language.md: pool, space, map)', () => {
  test("random setups: guest memory holds what an independent model of language.md's pool rules predicts", () => {
    fc.assert(
      fc.property(planArb(), fc.boolean(), (plan, linux) => {
        const { text, model } = buildTraceWithModel({ ...plan, events: [] }, { linux });
        const mem = buildGuestImage(program(text)).memory;
        for (const e of model.entries) {
          expect(mem.read(e.gpa, model.info.entry), `entry at 0x${e.gpa.toString(16)}\n${text}`).toBe(e.value);
        }
        // every table page the model took from the pool, in order, from 0x10000000
        expect(model.tables.map((t) => t.gpa)).toEqual(model.tables.map((_, i) => 0x10000000 + i * 0x1000));
      }),
      { numRuns: 100 },
    );
  });
});
