// Guest memory holds a page's written 128-byte chunks only: every way of
// writing and reading agrees with a plain byte array, across chunk
// boundaries, with zeros that allocate nothing, and under copy-on-write.
import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../src/engine';
import { prng } from '../../bench/gen';

const PAGE = 4096;

describe('GuestMemory chunks', () => {
  it('random stores of 1, 2, 4 and 8 bytes read back like a byte array, with snapshots in between', () => {
    const rnd = prng(7);
    const pick = (n: number): number => Math.floor(rnd() * n);
    const frames = [0, 1, 5, 0xfffff];
    const ref = new Map<number, Uint8Array>();
    const m = new GuestMemory();
    const snaps: { s: ReturnType<GuestMemory['snapshot']>; ref: Map<number, Uint8Array> }[] = [];
    const copyRef = (): Map<number, Uint8Array> => new Map([...ref].map(([k, v]) => [k, v.slice()]));
    for (let step = 0; step < 3000; step++) {
      const f = frames[pick(frames.length)]!;
      const size = [1, 2, 4, 8][pick(4)]!;
      const off = pick(PAGE / size) * size + (size === 1 ? 0 : rnd() < 0.1 ? 1 : 0);
      if (off + size > PAGE) continue;
      const lo = rnd() < 0.3 ? 0 : pick(2 ** 32);
      const hi = rnd() < 0.5 ? 0 : pick(2 ** 32);
      m.writeLoHi(f * PAGE + off, lo, hi, size);
      const page = ref.get(f) ?? new Uint8Array(PAGE);
      ref.set(f, page);
      for (let i = 0; i < size; i++) page[off + i] = i < 4 ? (lo >>> (8 * i)) & 0xff : (hi >>> (8 * (i - 4))) & 0xff;
      if (step % 500 === 0) snaps.push({ s: m.snapshot(), ref: copyRef() });
      if (step % 97 === 0) {
        for (const [fr, bytes] of ref) {
          expect(m.readRange(fr * PAGE, PAGE)).toEqual(bytes);
          const w = pick(PAGE / 4) * 4;
          expect(m.read32(fr * PAGE + w)).toBe(new DataView(bytes.buffer).getUint32(w, true));
          expect(m.readByte(fr * PAGE + w + 3)).toBe(bytes[w + 3]);
        }
      }
    }
    // Every snapshot restores its own bytes, in this memory and in another one.
    for (const { s, ref: r } of snaps) {
      const other = new GuestMemory();
      other.restore(s);
      for (const [fr, bytes] of r) expect(other.readRange(fr * PAGE, PAGE)).toEqual(bytes);
      m.restore(s);
      for (const [fr, bytes] of r) expect(m.readRange(fr * PAGE, PAGE)).toEqual(bytes);
      other.write(frames[0]! * PAGE + 8, 0x1234n, 8);
      expect(m.read(frames[0]! * PAGE + 8, 8)).toBe(BigInt(new DataView(r.get(frames[0]!)?.buffer ?? new ArrayBuffer(PAGE)).getBigUint64(8, true)));
    }
  });

  it('a page written with zeros only is a frame that holds no chunk', () => {
    const m = new GuestMemory();
    m.write(0x3008, 0n, 8);
    expect(m.frames()).toEqual([3]);
    expect(m.dataBytes).toBe(0);
    m.write(0x3ff8, 0x8000000000000001n, 8);
    m.write(0x3000, 1n, 1);
    expect(m.dataBytes).toBe(256);
    expect(m.read(0x3ff8, 8)).toBe(0x8000000000000001n);
    expect(m.read(0x3000, 8)).toBe(1n);
  });

  it('firstDifference finds the lowest differing byte', () => {
    const a = new GuestMemory();
    const b = new GuestMemory();
    a.write(0x5000 + 0x203, 0x77n, 1);
    b.write(0x5000 + 0x100, 0x0n, 8);
    a.write(0x9000, 1n, 1);
    expect(a.firstDifference(b)).toBe(0x5203);
    b.write(0x5203, 0x77n, 1);
    expect(a.firstDifference(b)).toBe(0x9000);
    b.write(0x9000, 1n, 1);
    expect(a.equals(b)).toBe(true);
  });
});
