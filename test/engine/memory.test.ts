// Guest memory's copy-on-write snapshots, including a snapshot restored into
// another memory (the debugger may keep a second machine, e.g. for the other
// policy, and restore checkpoints into it).

import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../src/engine';

describe('GuestMemory snapshots', () => {
  it('a snapshot keeps the bytes it saw while the memory goes on', () => {
    const m = new GuestMemory();
    m.write(0x1000, 0x11n, 8);
    const s = m.snapshot();
    m.write(0x1000, 0x22n, 8);
    expect(m.read(0x1000, 8)).toBe(0x22n);
    m.restore(s);
    expect(m.read(0x1000, 8)).toBe(0x11n);
  });

  it('restoring into another memory never writes through to the first or to the snapshot', () => {
    const a = new GuestMemory();
    a.write(0x2000, 1n, 8);
    a.snapshot(); // a moves on to a new generation
    a.write(0x2000, 2n, 8); // a now owns a private copy of the page
    const s = a.snapshot(); // s shares that page with a
    const b = new GuestMemory(); // a fresh memory, generations behind a's page
    b.restore(s);
    b.write(0x2000, 3n, 8); // must copy, not write into the shared page
    expect(b.read(0x2000, 8)).toBe(3n);
    expect(a.read(0x2000, 8)).toBe(2n);
    const c = new GuestMemory();
    c.restore(s);
    expect(c.read(0x2000, 8)).toBe(2n);
  });
});

// The fast paths of reads (the page cache in front of the page map, read64)
// must agree with the byte-by-byte `read` whatever the history of stores,
// snapshots and restores: a model (a Map of bytes) decides every value.
describe('GuestMemory reads against a byte model', () => {
  it('read32, read64 and read agree with every store, across snapshots, restores and cache collisions', async () => {
    const fc = (await import('fast-check')).default;
    // Frames that collide in the 1024-slot cache (gfn % 1024 equal), and frames above 2^32 pages.
    const gfns = [0, 1, 1024, 2048, 5, 1029, 2 ** 33, 2 ** 33 + 1024];
    const op = fc.oneof(
      fc.record({ k: fc.constant('store' as const), gfn: fc.constantFrom(...gfns), off: fc.integer({ min: 0, max: 4095 }), size: fc.constantFrom(1, 2, 4, 8), v: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
      fc.record({ k: fc.constant('snapshot' as const) }),
      fc.record({ k: fc.constant('restore' as const), which: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.array(fc.record({ gfn: fc.constantFrom(...gfns), entry: fc.integer({ min: 0, max: 511 }) }), { minLength: 1, maxLength: 20 }), (ops, probes) => {
        const m = new GuestMemory();
        let model = new Map<number, number>();
        const snaps: { s: ReturnType<GuestMemory['snapshot']>; model: Map<number, number> }[] = [];
        for (const o of ops) {
          if (o.k === 'store') {
            const size = Math.min(o.size, 4096 - o.off);
            const gpa = o.gfn * 4096 + o.off;
            m.write(gpa, o.v & ((1n << BigInt(8 * size)) - 1n), size);
            for (let i = 0; i < size; i++) model.set(gpa + i, Number((o.v >> BigInt(8 * i)) & 0xffn));
          } else if (o.k === 'snapshot') {
            snaps.push({ s: m.snapshot(), model: new Map(model) });
          } else if (snaps.length) {
            const s = snaps[o.which % snaps.length]!;
            m.restore(s.s);
            model = new Map(s.model);
          }
          for (const p of probes) {
            const gpa = p.gfn * 4096 + p.entry * 8;
            const byte = (a: number): number => model.get(a) ?? 0;
            const lo = (byte(gpa) | (byte(gpa + 1) << 8) | (byte(gpa + 2) << 16) | (byte(gpa + 3) << 24)) >>> 0;
            const hi = (byte(gpa + 4) | (byte(gpa + 5) << 8) | (byte(gpa + 6) << 16) | (byte(gpa + 7) << 24)) >>> 0;
            if (m.read32(gpa) !== lo || m.read32(gpa + 4) !== hi) return false;
            if (m.read64(gpa) !== lo || m.hi !== hi) return false;
            if (m.read(gpa, 8) !== ((BigInt(hi) << 32n) | BigInt(lo))) return false;
          }
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });
});
