// engine.md of 2026-12-04, held against KVM's own 2007 code: a present leaf is
// not rebuilt and keeps the access recorded when it was built; fix_write_pf
// adds W only where that access allows; the retry, and 4 fill exits in a row
// as a livelock; metaphysical pages keyed by the large entry's frame bits as
// written. Every expected value is worked out from engine.md next to it, in
// the three paging modes where the rule does not depend on one.

import { describe, expect, test } from 'vitest';
import { A, D, P, U, W, both, spteOf, trace } from './helpers';

const FILLS4 = ['page-fault:fill', 'page-fault:fill', 'page-fault:fill', 'page-fault:fill'];

/**
 * One guest page table T reached through a user directory entry (VA `user`)
 * and a supervisor-only one (VA `kern`), in each mode. Pools: mode 64 root
 * 0x10000000, L3 0x10001000, L2 0x10002000, T 0x10003000; mode pae PDPT
 * 0x10000000, directory 0x10001000, T 0x10002000; mode 32 directory
 * 0x10000000, T 0x10001000. In mode 32 both VAs are quadrant 0 of T
 * ((va >> 21) & 1 = 0), so they share one shadow page as in the other modes.
 */
const shared = [
  { mode: '64', user: 0x400000, kern: 0x600000, table: 0x10003000 },
  { mode: 'pae', user: 0x400000, kern: 0x600000, table: 0x10002000 },
  { mode: '32', user: 0x400000, kern: 0x800000, table: 0x10001000 },
].map((m) => ({
  ...m,
  text: (parent: string, first: string, second: string) => `
    mode ${m.mode}
    space s
    map 0x${m.user.toString(16)} = 0x200000 P W U A D
    map 0x${m.kern.toString(16)} L2 = 0x${m.table.toString(16)} ${parent}
    ${first.replace('KERN', '0x' + m.kern.toString(16)).replace('USER', '0x' + m.user.toString(16))} @first
    ${second.replace('KERN', '0x' + m.kern.toString(16)).replace('USER', '0x' + m.user.toString(16))} @second
  `,
}));

describe('a present leaf keeps the access recorded when it was built', () => {
  for (const m of shared) {
    test(`mode ${m.mode}: a supervisor-only path, then a user read through the other: 4 fill exits, a livelock`, () => {
      for (const r of both(m.text('P W A', 'read KERN kernel', 'read USER user'))) {
        r.to('first');
        // The supervisor path has no U: the leaf records W (every level has W) and no U;
        // the entry: P W A D (dirty, target not shadowed), no U.
        expect(r.spte(m.kern)).toBe(spteOf(0x200, P | W | A | D));
        r.to('second');
        // Each exit: fetch links the shared page under the user path and finds the leaf present:
        // returned as it stands; fix_read_pf fixes nothing; the guest retries.
        expect(r.at('second').exitLog).toEqual(FILLS4);
        expect(r.at('second').incidents).toEqual(['livelock']);
        // The event completes as the guest walk says: the read succeeds.
        expect(r.at('second').ok).toBe(true);
        expect(r.spte(m.user)).toBe(spteOf(0x200, P | W | A | D));
        expect(r.m.summary('t')).toMatchObject({ livelocks: 1, hangs: 0, exits: { total: 5, pf: 5, fill: 5 } });
        expect(r.m.incidents[0]!.message).toContain('recorded access');
      }
    });

    test(`mode ${m.mode}: a read-only path, then a write through the writable one: fix_write_pf fixes nothing, a livelock`, () => {
      for (const r of both(m.text('P U A', 'read KERN user', 'write USER = 0x77 user'))) {
        r.to('first');
        // The read-only path: the leaf records U, no W; the entry P U A D.
        expect(r.spte(m.kern)).toBe(spteOf(0x200, P | U | A | D));
        r.to('second');
        expect(r.at('second').exitLog).toEqual(FILLS4);
        expect(r.at('second').incidents).toEqual(['livelock']);
        // The store lands as the guest walk allows it; the shadow stays read-only.
        expect(r.mem(0x200000)).toBe(0x77n);
        expect(r.spte(m.user)).toBe(spteOf(0x200, P | U | A | D));
      }
    });

    test(`mode ${m.mode}: the other order gives no livelock (the user path's leaf allows both)`, () => {
      for (const r of both(m.text('P W A', 'read USER user', 'read KERN kernel'))) {
        r.run();
        // The user path built the leaf with W and U; the kernel read through the other path
        // links the same page and finds the leaf allowing it: one exit (the link), no livelock.
        expect(r.at('second').exitLog).toEqual(['page-fault:fill']);
        expect(r.m.summary('t').livelocks).toBe(0);
      }
    });
  }

  test('fix_write_pf adds W to a present read-only leaf whose recorded access has it (the clean leaf, written)', () => {
    for (const r of both(`
      mode pae
      space s
      map 0x400000 = 0x200000 P W U A
      read 0x400000 @r
      write 0x400000 @w
    `)) {
      r.to('r');
      // Not dirty: the leaf is built without W; its recorded access is W U.
      expect(r.spte(0x400000)).toBe(spteOf(0x200, P | U | A));
      r.to('w');
      // The walk sets D; fetch returns the leaf as it stands; fix_write_pf adds W. One exit.
      expect(r.at('w').exitLog).toEqual(['page-fault:fill']);
      expect(r.spte(0x400000)).toBe(spteOf(0x200, P | W | U | A));
      expect(r.gpte(0x400000)).toBe(0x200067n);
    }
  });
});

describe('known flaw 4 over time: a large entry whose NX changed while its metaphysical page lived', () => {
  test('the exec through the same key finds the old NX leaf: a livelock', () => {
    for (const r of both(`
      mode 64
      space s
      map 0x40000000 L2 = 0x400000 P W U A D PS NX   # L3 0x10001000, L2 0x10002000
      read 0x40000000 @r
      pte 0x40000000 L2 = 0x400000 P W U A D PS @p
      exec 0x40000000 @x
    `)) {
      r.to('r');
      // The metaphysical page is keyed by frame 0x400 and the entry's W and U; the leaf has NX.
      expect(r.spte(0x40000000)).toBe(spteOf(0x400, P | W | U | A | D, true));
      r.to('p');
      // The store into the shadowed L2 table zaps the link to the metaphysical page; the page lives.
      expect(r.at('p').exitLog).toEqual(['page-fault:emulate']);
      expect(r.pagesOf(0x400)).toHaveLength(1);
      r.to('x');
      // fetch links the same page (same key); its leaf still has NX: 4 fills, a livelock. The guest
      // walk allows the fetch now (no NX anywhere): the event completes.
      expect(r.at('x').exitLog).toEqual(FILLS4);
      expect(r.at('x').incidents).toEqual(['livelock']);
      expect(r.at('x').ok).toBe(true);
    }
  });
});

describe('metaphysical pages are keyed by the large entry\'s frame bits as written', () => {
  test('mode 64 and pae: PAT (bit 12) keys another page; the translation ignores it', () => {
    for (const mode of ['64', 'pae']) {
      for (const r of both(`
        mode ${mode}
        space s
        map 0x40000000 L2 = 0x400000 P W U A D PS
        map 0x40200000 L2 = 0x401000 P W U A D PS     # the same 2 MiB frames, PAT set
        read 0x40000000
        read 0x40200000
      `)) {
        r.run();
        expect(r.pagesOf(0x400).map((p) => p.role.metaphysical)).toEqual([true]);
        expect(r.pagesOf(0x401).map((p) => p.role.metaphysical)).toEqual([true]);
        expect(r.m.env.gpa(0x40200000)).toBe(0x400000n);
        expect(r.spte(0x40200000)).toBe(spteOf(0x400, P | W | U | A | D));
      }
    }
  });

  test('mode 32: a 4 MiB entry with bit 13 set keys another page (both halves are its quadrants)', () => {
    for (const r of both(`
      mode 32
      space s
      map 0x400000 L2 = 0x800000 P W U A D PS
      map 0xc00000 L2 = 0x802000 P W U A D PS        # bit 13: ignored by the walk
      read 0x400000
      read 0xc00000
      read 0xe00000
    `)) {
      r.run();
      expect(r.pagesOf(0x800)).toHaveLength(1);
      // 0xc00000 and 0xe00000 are the two halves of one 4 MiB page: quadrants 0 and 1 of key 0x802
      expect(r.pagesOf(0x802).map((p) => p.role.quadrant).sort()).toEqual([0, 1]);
      expect(r.m.env.gpa(0xe00000)).toBe(0xa00000n);
      expect(r.spte(0xe00000)).toBe(spteOf(0xa00, P | W | U | A | D));
    }
  });
});

describe('a user write to the page table that maps it (engine.md, "The retry")', () => {
  test('mode 32 and pae: unshadow, refetch, unshadow: 4 fills, a livelock; the store lands', () => {
    for (const [mode, table] of [['pae', 0x10002000], ['32', 0x10001000]] as const) {
      for (const r of both(`
        mode ${mode}
        space s
        map 0x401000 = 0x${table.toString(16)} P W U A D
        read 0x401000 @r
        write 0x401008 = 0x9 size 4 @w
      `)) {
        r.to('r');
        expect(r.shadowed(table)).toBe(true);
        r.to('w');
        expect(r.at('w').exitLog).toEqual(FILLS4);
        expect(r.at('w').incidents).toEqual(['livelock']);
        expect(r.stats.unshadowed).toBe(4);
        expect(r.mem(table + 8, 4)).toBe(9n);
        expect(r.m.incidents[0]!.message).toContain('unshadows it');
      }
    }
  });
});



describe('a livelocked write whose store lands in a shadowed page table', () => {
  // The write livelocks (its leaf was built through a directory entry without W); it completes as
  // the guest walk says, and its store rewrites L4 entry 1 of the root table behind the shadow's
  // back (no pte-write path: the shadow stays as the last exit left it). The path of 0x8000000000
  // is then stale; the audit reports it at this event, incremental or full, and names the livelock.
  const text = `
    mode 64
    space s
    map 0x400000 = 0x10000000 P W U A      # a user-writable view of the root (L4) table
    map 0x400000 L2 = 0x10003000 P U A     # through a directory entry without W
    map 0x8000000000 = 0x200000 P W U A D  # a path through L4 entry 1
    read 0x400000
    pte 0x400000 L2 = 0x10003000 P W U A   # the directory entry gets W: trapped, its link zapped
    read 0x8000000000
    write 0x400008 = 0x1 @w                # L4 entry 1 := P, frame 0
  `;
  for (const audit of ['full', 'incremental'] as const) {
    test(`the ${audit} audit reports the stale path at the write, attributed to the livelock`, () => {
      for (const r of [trace(text, 'zap', audit), trace(text, 'update', audit)]) {
        r.to('w');
        expect(r.at('w').exitLog).toEqual(FILLS4);
        expect(r.at('w').incidents).toEqual(['livelock']);
        expect(r.mem(0x10000008)).toBe(1n);
        const v = r.at('w').violations;
        expect(v.length).toBeGreaterThan(0);
        expect(v.every((x) => x.check === 3 && x.flaw === 'livelock')).toBe(true);
        expect(v.some((x) => x.va === 0x8000000000n)).toBe(true);
      }
    });
  }
});
