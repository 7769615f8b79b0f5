// A shadow page holds its entries sparsely (a slot per index that ever held
// one): entries and children read back as stored, whatever the order, up to
// all 512; the present entries are found in index order (nextEntry over
// the page's bitmap).
import { describe, expect, it } from 'vitest';
import { ShadowPage, type Role } from '../../src/engine';
import { prng } from '../../bench/gen';

const role = (level: number): Role => ({ level, glevels: 4, quadrant: 0, metaphysical: false, hugepageAccess: 0, access: -1, nested: false });

describe('ShadowPage entries', () => {
  it('random stores (zeros included) to random indexes read back like a dense array', () => {
    const rnd = prng(11);
    const p = new ShadowPage(1, 0x100, role(2), -1);
    const kidsOf = [new ShadowPage(2, 0x200, role(1), -1), new ShadowPage(3, 0x300, role(1), -1)];
    const vals = new Float64Array(512);
    const kids: (ShadowPage | null)[] = new Array(512).fill(null);
    for (let step = 0; step < 5000; step++) {
      const i = Math.floor(rnd() * 512);
      const v = rnd() < 0.3 ? 0 : Math.floor(rnd() * 2 ** 53);
      p.storeEntry(i, v);
      vals[i] = v;
      const c = rnd() < 0.5 ? null : kidsOf[Math.floor(rnd() * 2)]!;
      p.storeChild(i, c);
      kids[i] = c;
      if (step % 250 === 0) {
        expect(Array.from({ length: 512 }, (_, k) => p.entry(k))).toEqual([...vals]);
        expect(Array.from({ length: 512 }, (_, k) => p.child(k))).toEqual(kids);
        const present = [...vals.keys()].filter((k) => vals[k] !== 0);
        expect(p.entries()).toEqual(present);
        for (const from of [0, 1, 15, 16, 17, 255, 500, 511, 512]) expect(p.nextEntry(from), `from ${from}`).toBe(present.find((k) => k >= from) ?? -1);
        expect(p.presentCount()).toBe(vals.filter((x) => x !== 0).length);
      }
    }
  });

  it('a leaf page has no children', () => {
    const p = new ShadowPage(1, 0x100, role(1), -1);
    p.storeEntry(3, 7);
    expect(p.hasChildren).toBe(false);
    expect(p.child(3)).toBe(null);
    expect(p.entry(3)).toBe(7);
    expect(p.entry(4)).toBe(0);
  });
});

// A freed page gives its slot table to the next page (allocating one is slow):
// the new page must start empty whatever the freed one held, and the freed page
// must read as empty and refuse writes instead of writing into a shared table.
describe('ShadowPage slot tables reused after release', () => {
  it('a page built after a release starts empty; the released page reads empty and refuses writes', () => {
    const rnd = prng(12);
    for (let round = 0; round < 20; round++) {
      const old = new ShadowPage(10 + round, 0x100, role(1), -1);
      for (let k = 0; k < 300; k++) old.storeEntry(Math.floor(rnd() * 512), 1 + Math.floor(rnd() * 2 ** 40));
      // As zapPage leaves a page before freeing it: every entry cleared.
      for (const i of old.entries()) old.storeEntry(i, 0);
      old.release();
      const fresh = new ShadowPage(100 + round, 0x200, role(1), -1);
      expect(fresh.entries()).toEqual([]);
      expect(Array.from({ length: 512 }, (_, k) => fresh.entry(k)).every((v) => v === 0)).toBe(true);
      fresh.storeEntry(7, 42);
      expect(fresh.entry(7)).toBe(42);
      expect(fresh.entries()).toEqual([7]);
      expect(old.entries()).toEqual([]);
      expect(old.entry(7)).toBe(0);
      expect(old.presentCount()).toBe(0);
      expect(() => old.storeEntry(3, 5)).toThrow(/after it was freed/);
      expect(old.entry(3)).toBe(0);
      // Storing a zero into a freed page is a no-op, as for any never-written entry.
      old.storeEntry(4, 0);
      expect(old.entries()).toEqual([]);
    }
  });
});
