// engine.md, "Guest walk (walk_addr)" and the leaf shadow entry of "Events":
// error codes, A and D bits, PAE PDPTEs, host frames, leaf W/U/NX.
//
// Pool layout used throughout (language.md: `space` takes the root from the
// pool, `map` takes each missing table top-down, from 0x10000000 by default):
//   mode 64, `space s` then `map 0x400000 = ...`:
//     L4 0x10000000, L3 0x10001000, L2 0x10002000, L1 0x10003000
//   mode pae: PDPT 0x10000000, directory 0x10001000, L1 0x10002000
//   mode 32: directory 0x10000000, L1 0x10001000

import { describe, expect, test } from 'vitest';
import { A, D, P, U, W, both, spteOf } from './helpers';

describe('walk_addr error codes', () => {
  const base = `
    mode 64
    space s
    map 0x400000 = 0                       # L1 entry not present
    map 0x401000 = 0x201000 P U A D        # read-only (no W)
    map 0x402000 = 0x202000 P W A D        # supervisor only (no U)
    map 0x403000 = 0x203000 P W U A D NX   # no exec
    map 0x404000 = 0x204000 P W U A D
  `;

  test('not present: error code 0 plus W, U and F for the access kind', () => {
    for (const r of both(
      base +
        `
        read 0x400000 @ur
        read 0x400000 kernel @kr
        write 0x400000 @uw
        write 0x400000 kernel @kw
        exec 0x400000 @ux
        exec 0x400000 kernel @kx
        read 0x80000000 @l3     # the L3 entry (index 2) is not present
        read 0x8000000000 @l4   # the L4 entry (index 1) is not present
      `,
    )) {
      r.run();
      // Not present -> P clear; W (bit 1) for writes, U (bit 2) for user, F (bit 4) for fetches (mode 64).
      expect(r.at('ur').fault).toBe(0x4);
      expect(r.at('kr').fault).toBe(0x0);
      expect(r.at('uw').fault).toBe(0x6);
      expect(r.at('kw').fault).toBe(0x2);
      expect(r.at('ux').fault).toBe(0x14);
      expect(r.at('kx').fault).toBe(0x10);
      expect(r.at('l3').fault).toBe(0x4);
      expect(r.at('l4').fault).toBe(0x4);
      for (const x of r.recs) {
        // Each is one exit, reason page-fault, outcome inject.
        expect(x.exits).toBe(1);
        expect(x.reason).toBe('page-fault');
        expect(x.outcome).toBe('inject');
        expect(x.ok).toBe(false);
      }
      // exits.pf = fill + inject + emulate; 8 injected faults.
      expect(r.exits.inject).toBe(8);
      expect(r.exits.pf).toBe(8);
      expect(r.exits.total).toBe(8);
      expect(r.m.summary('t').faults).toBe(8);
    }
  });

  test('protection: P with W, U, F; a kernel write to a read-only entry faults (CR0.WP)', () => {
    for (const r of both(
      base +
        `
        write 0x401000 @uw      # user write, no W: P|W|U
        write 0x401000 kernel @kw  # kernel write, no W: P|W (CR0.WP = 1)
        read 0x401000 @ok1      # reading it is fine
        read 0x402000 @ur       # user read, no U: P|U
        write 0x402000 @uw2     # user write, no U: P|W|U
        read 0x402000 kernel @ok2
        exec 0x403000 @ux       # user exec, NX: P|U|F
        exec 0x403000 kernel @kx   # kernel exec, NX: P|F
        read 0x403000 @ok3      # NX does not stop a read
      `,
    )) {
      r.run();
      expect(r.at('uw').fault).toBe(0x7);
      expect(r.at('kw').fault).toBe(0x3);
      expect(r.at('ok1').ok).toBe(true);
      expect(r.at('ur').fault).toBe(0x5);
      expect(r.at('uw2').fault).toBe(0x7);
      expect(r.at('ok2').ok).toBe(true);
      expect(r.at('ux').fault).toBe(0x15);
      expect(r.at('kx').fault).toBe(0x11);
      expect(r.at('ok3').ok).toBe(true);
      // @ok2, a kernel read, built the leaf of 0x402000: no U (the guest leaf lacks
      // it), W (every level allows W, the leaf is dirty, 0x202 is not shadowed).
      expect(r.spte(0x402000)).toBe(spteOf(0x202, P | W | A | D));
      // @ux and @kx injected: the leaf of 0x403000 was built by @ok3 only, with the leaf's NX.
      expect(r.spte(0x403000)).toBe(spteOf(0x203, P | W | U | A | D, true));
    }
  });

  test('a parent entry that refuses refuses too (W, U, NX at L2)', () => {
    const t = `
      mode 64
      space s
      map 0x400000 = 0x200000 P W U A D
      map 0x600000 = 0x300000 P W U A D
      map 0x800000 = 0x400000 P W U A D
      map 0x400000 L2 = 0x10003000 P U A        # the table of 0x400000 is read-only from here
      map 0x600000 L2 = 0x10004000 P W A        # supervisor only
      map 0x800000 L2 = 0x10005000 P W U A NX   # no exec
      write 0x400000 @w
      read 0x600000 @r
      exec 0x800000 @x
      write 0x400000 kernel @kw
    `;
    for (const r of both(t)) {
      r.run();
      // The L1 tables: 0x400000 -> 0x10003000, 0x600000 -> 0x10004000, 0x800000 -> 0x10005000
      // (each `map` of a new 2 MiB region takes one L1 table from the pool).
      expect(r.at('w').fault).toBe(0x7); // P W U
      expect(r.at('r').fault).toBe(0x5); // P U
      expect(r.at('x').fault).toBe(0x15); // P U F
      expect(r.at('kw').fault).toBe(0x3); // P W: CR0.WP
    }
  });

  test('mode 32 has no NX and reports no F', () => {
    for (const r of both(`
      mode 32
      space s
      map 0x400000 = 0
      map 0x401000 = 0x201000 P U A D
      exec 0x400000 @x
      exec 0x400000 kernel @kx
      exec 0x401000 @ok
      write 0x401000 kernel @kw
    `)) {
      r.run();
      expect(r.at('x').fault).toBe(0x4); // not present, user, no F
      expect(r.at('kx').fault).toBe(0x0);
      expect(r.at('ok').ok).toBe(true);
      expect(r.at('kw').fault).toBe(0x3); // kernel write to a read-only entry: P|W
      // The leaf shadow entry never has NX in mode 32.
      expect(r.spte(0x401000) >> 63n).toBe(0n);
    }
  });

  test('mode pae reports F and honours NX', () => {
    for (const r of both(`
      mode pae
      space s
      map 0x400000 = 0x200000 P W U A D NX
      map 0x401000 = 0
      exec 0x400000 @x
      exec 0x401000 kernel @kx
    `)) {
      r.run();
      expect(r.at('x').fault).toBe(0x15);
      expect(r.at('kx').fault).toBe(0x10);
    }
  });
});

describe('A and D bits', () => {
  // Tables without A above the leaf: L4 and L3 entries lack A.
  const t = `
    mode 64
    space s
    map 0x400000 = 0
    map 0x401000 = 0x201000 P W U
    map 0x600000 = 0x300000 P W U A D
    map 0x400000 L4 = 0x10001000 P W U
    map 0x400000 L3 = 0x10002000 P W U
    map 0x600000 L2 = 0x10004000 P W        # no U, no A
  `;

  test('A is set on the way and stays set when a lower level faults', () => {
    for (const r of both(t + 'read 0x400000 @f\n')) {
      r.run();
      expect(r.at('f').fault).toBe(0x4);
      // L4, L3, L2 entries passed: A set (0x27 = P W U A); the L1 entry is not present.
      expect(r.mem(0x10000000)).toBe(0x10001027n);
      expect(r.mem(0x10001000)).toBe(0x10002027n);
      expect(r.mem(0x10002000 + 2 * 8)).toBe(0x10003027n);
      expect(r.gpte(0x400000)).toBe(0n);
    }
  });

  test('an entry that refuses does not get A; the ones above it do', () => {
    for (const r of both(t + 'read 0x600000 @f\n')) {
      r.run();
      expect(r.at('f').fault).toBe(0x5); // user read, L2 lacks U
      expect(r.mem(0x10000000)).toBe(0x10001027n); // passed: A set
      expect(r.mem(0x10001000)).toBe(0x10002027n);
      expect(r.mem(0x10002000 + 3 * 8)).toBe(0x10004003n); // refused: A still clear
      expect(r.mem(0x10004000)).toBe(0x300067n); // never reached
    }
  });

  test('a read sets A on the leaf, not D; a write sets D; the present leaf is not rebuilt, W is added', () => {
    for (const r of both(t + 'read 0x401000 @r\nwrite 0x401000 @w\n')) {
      r.to('r');
      expect(r.mem(0x10003008)).toBe(0x201027n); // P W U + A
      // Leaf spte: A and D from the guest leaf as the walk left it (A, no D),
      // U from every level, no W because the guest leaf is not dirty.
      expect(r.spte(0x401000)).toBe(spteOf(0x201, P | U | A));
      r.to('w');
      // The shadow leaf was read-only: one exit, fill; the walk sets D.
      expect(r.at('w').exits).toBe(1);
      expect(r.at('w').outcome).toBe('fill');
      expect(r.mem(0x10003008)).toBe(0x201067n);
      // engine.md: a present leaf is not rebuilt; fix_write_pf adds W (its recorded access has W,
      // the frame is not shadowed). The D the walk just set is not copied into it.
      expect(r.spte(0x401000)).toBe(spteOf(0x201, P | W | U | A));
    }
  });

  test('D is set on a large leaf by a write', () => {
    for (const r of both(`
      mode pae
      space s
      map 0x400000 L2 = 0x600000 P W U PS
      write 0x400000 = 0x1234 @w
    `)) {
      r.run();
      // PAE: PDPT 0x10000000, directory 0x10001000; the large entry is at index 2.
      expect(r.mem(0x10001010)).toBe(0x6000e7n); // P W U A D PS
      expect(r.mem(0x600000)).toBe(0x1234n);
      // No A in PDPTEs: the PDPTE stays P alone.
      expect(r.mem(0x10000000)).toBe(0x10001001n);
    }
  });
});

describe('PAE PDPTEs', () => {
  const t = `
    mode pae
    space s
    map 0x400000 = 0x200000 P W U A D
    map 0x40000000 = 0x300000 P W U A D
  `;

  test('loaded at CR3 only; a store to the PDPT takes effect at the next cr3', () => {
    for (const r of both(
      t +
        `
        read 0x40000000 @before
        store 0x10000008 = 0 @clear   # PDPTE 1 in memory
        read 0x40000400 @still
        cr3 s @reload
        read 0x40000000 @gone
      `,
    )) {
      // Roots before the first event: one level-2 root per present PDPTE (0 and 1), counted.
      expect(r.stats.pagesCreated).toBe(2);
      r.run();
      expect(r.at('before').ok).toBe(true);
      // The PDPT (frame 0x10000) has no shadow page: the store does not exit.
      expect(r.at('clear').exits).toBe(0);
      // Until the next CR3 load the loaded PDPTE still counts (and the shadow already maps it: no exit).
      expect(r.at('still').ok).toBe(true);
      expect(r.at('still').exits).toBe(0);
      expect(r.at('reload').exits).toBe(1);
      expect(r.at('reload').reason).toBe('cr3');
      // A PDPTE without P: no root, and the access injects (not present, user).
      expect(r.at('gone').fault).toBe(0x4);
      expect(r.spte(0x40000000, 3)).toBe(0n);
      expect(r.gpte(0x40000000, 3)).toBe(0n);
    }
  });

  test('a store to the PDPT exits only where its frame is also shadowed as a directory', () => {
    for (const r of both(`
      mode pae
      space s
      map 0x400000 = 0x200000 P W U A D       # PDPT 0x10000000, dir 0x10001000, L1 0x10002000
      map 0x40000000 L3 = 0x10000000 P        # PDPTE 1: the PDPT frame itself as a directory
      store 0x10000018 = 0 @s
    `)) {
      // roots: PDPTE 0 -> 0x10001, PDPTE 1 -> 0x10000 (the PDPT frame, now a shadowed directory)
      expect(r.stats.pagesCreated).toBe(2);
      expect(r.shadowed(0x10000000)).toBe(true);
      r.run();
      expect(r.at('s')).toMatchObject({ exits: 1, outcome: 'emulate', zapped: 0 });
    }
  });

  test('a PDPTE made present in memory takes effect at the next cr3', () => {
    for (const r of both(`
      mode pae
      space s
      map 0x400000 = 0x200000 P W U A D
      map 0x40000000 = 0x300000 P W U A D
      poke 0x10000008 = 0
      read 0x40000000 @a
      store 0x10000008 = 0x10003001
      read 0x40000000 @b
      cr3 s
      read 0x40000000 @c
    `)) {
      expect(r.stats.pagesCreated).toBe(1); // only PDPTE 0 is present at start
      r.run();
      expect(r.at('a').fault).toBe(0x4);
      expect(r.at('b').fault).toBe(0x4);
      expect(r.at('c').ok).toBe(true);
      expect(r.at('c').outcome).toBe('fill');
      // The PDPTE in memory points to the directory 0x10003000 that `map 0x40000000` built
      // (PDPT 0x10000000, dir 0x10001000, L1 0x10002000, dir 0x10003000, L1 0x10004000).
      expect(r.m.env.gpa(0x40000000)).toBe(0x300000n);
    }
  });
});


describe('the leaf shadow entry built by fetch', () => {
  test('host frame = gfn + 0x100000; A and D from the guest leaf; G not copied', () => {
    for (const r of both(`
      mode 64
      space s
      map 0x400000 = 0x1234000 P W U A D G
      read 0x400000
    `)) {
      r.run();
      // frame 0x1234 -> host frame 0x101234; P W U A D, no G (bit 8).
      expect(r.spte(0x400000)).toBe(0x101234067n);
      expect(r.spte(0x400000)).toBe(spteOf(0x1234, P | W | U | A | D));
    }
  });

  test('W only where every level allows W, the leaf is dirty and the target is not shadowed', () => {
    for (const r of both(`
      mode 64
      space s
      map 0x400000 = 0x200000 P W U A D      # L1 table 0x10003000
      map 0x401000 = 0x201000 P W U A        # clean
      map 0x402000 = 0x10003000 P W U A D    # the L1 table itself: shadowed once read
      map 0x600000 = 0x300000 P W U A D      # L1 table 0x10004000
      map 0x600000 L2 = 0x10004000 P U A     # the L2 entry withholds W
      read 0x400000
      read 0x401000
      read 0x402000
      read 0x600000
    `)) {
      r.run();
      expect(r.spte(0x400000)).toBe(spteOf(0x200, P | W | U | A | D));
      expect(r.spte(0x401000)).toBe(spteOf(0x201, P | U | A)); // not dirty
      expect(r.shadowed(0x10003000)).toBe(true); // a shadow page of the L1 table exists
      expect(r.spte(0x402000)).toBe(spteOf(0x10003, P | U | A | D)); // target shadowed
      expect(r.spte(0x600000)).toBe(spteOf(0x300, P | U | A | D)); // parent withholds W
    }
  });

  test('U only where every level allows U (kernel access through a supervisor L3 entry)', () => {
    for (const r of both(`
      mode 64
      space s
      map 0x400000 = 0x200000 P W U A D
      map 0x400000 L3 = 0x10002000 P W A
      read 0x400000 kernel
    `)) {
      r.run();
      expect(r.spte(0x400000)).toBe(spteOf(0x200, P | W | A | D));
      // non-leaf shadow entries are always P W U A, pointing to a shadow page
      expect(r.spte(0x400000, 2) & 0xfffn).toBe(BigInt(P | W | U | A));
      expect(r.spte(0x400000, 3) & 0xfffn).toBe(BigInt(P | W | U | A));
      expect(r.spte(0x400000, 4) & 0xfffn).toBe(BigInt(P | W | U | A));
    }
  });

  test('NX copied from the guest leaf', () => {
    for (const r of both(`
      mode pae
      space s
      map 0x400000 = 0x200000 P W U A D NX
      read 0x400000
    `)) {
      r.run();
      expect(r.spte(0x400000)).toBe(spteOf(0x200, P | W | U | A | D, true));
    }
  });
});

describe('large entries', () => {
  test('frame bits below the page size are ignored (2 MiB, 1 GiB, 4 MiB)', () => {
    for (const r of both(`
      mode 64
      space s
      map 0x40000000 L2 = 0x4ff000 P W U A D PS    # bits 12..20 set: ignored, base 0x400000
      map 0xc0000000 L3 = 0x40203000 P W U A D PS  # bits 12..29 set: ignored, base 0x40000000
      read 0x40003000
      read 0xc0005000
    `)) {
      r.run();
      expect(r.m.env.gpa(0x40003000)).toBe(0x403000n);
      expect(r.m.env.gpa(0xc0005000)).toBe(0x40005000n);
      expect(r.spte(0x40003000)).toBe(spteOf(0x403, P | W | U | A | D));
      expect(r.spte(0xc0005000)).toBe(spteOf(0x40005, P | W | U | A | D));
      // engine.md: metaphysical pages are keyed by the large entry's frame bits as written
      // (2007 did not mask them); the translation uses the aligned base.
      expect(r.pagesOf(0x400)).toHaveLength(0);
      expect(r.pagesOf(0x4ff)).toHaveLength(1);
      // the 1 GiB page: its level-2 page and (0 MiB into the page) its level-1 page, both 0x40203
      expect(r.pagesOf(0x40000)).toHaveLength(0);
      expect(r.pagesOf(0x40203).map((p) => p.role.level).sort()).toEqual([1, 2]);
    }
    for (const r of both(`
      mode 32
      space s
      map 0x800000 L2 = 0x7ff000 P W U A D PS      # base 0x400000
      read 0xa01000
    `)) {
      r.run();
      expect(r.m.env.gpa(0xa01000)).toBe(0x601000n);
      expect(r.spte(0xa01000)).toBe(spteOf(0x601, P | W | U | A | D));
    }
  });

  test('a PS bit at level 1 is not a large page', () => {
    for (const r of both(`
      mode 64
      space s
      map 0x400000 = 0x200000 P W U A D PS     # PAT at level 1: a 4 KiB leaf
      read 0x400000
    `)) {
      r.run();
      expect(r.m.env.gpa(0x400000)).toBe(0x200000n);
      expect(r.spte(0x400000)).toBe(spteOf(0x200, P | W | U | A | D));
    }
  });
});

describe('cr3 by address', () => {
  test('cr3 GPA loads that frame as the root', () => {
    for (const r of both(`
      mode 64
      space a
      map 0x400000 = 0x200000 P W U A D
      space b
      map 0x400000 = 0x300000 P W U A D
      cr3 0x10004000 @sw
      read 0x400000 @r
    `)) {
      r.run();
      expect(r.at('sw')).toMatchObject({ exits: 1, reason: 'cr3', fault: -1 });
      expect(r.m.env.gpa(0x400000)).toBe(0x300000n);
      expect(r.spte(0x400000)).toBe(spteOf(0x300, P | W | U | A | D));
    }
  });
});
