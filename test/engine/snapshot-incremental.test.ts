// Shadow snapshots are incremental: a page that did not change since the last
// snapshot (or since the restore that built it) gives the same image object;
// a page that changed gives a new image, equal to one built from scratch over
// all 512 entries, unless it changed back. On random traces, at every event.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Machine, type PageImage, type ShadowPage, type ShadowSnapshot } from '../../src/engine';
import { buildTrace, planArb } from './gen';
import { program, trace } from './helpers';

const RUNS = Number(process.env.ENGINE_PROP_RUNS ?? 1);

/** The image of a page built from scratch: every index read with entry(i) (each index plus 512 × its recorded access). */
function reference(p: ShadowPage): PageImage {
  const idx: number[] = [];
  const vals: number[] = [];
  const kids: number[] = [];
  for (let i = 0; i < 512; i++) {
    const v = p.entry(i);
    if (v === 0) continue;
    idx.push(i + 512 * p.access(i));
    vals.push(v);
    if (p.hasChildren) kids.push(p.child(i)?.uid ?? 0);
  }
  const links = p.parents.map((l) => l.page.uid * 512 + l.index);
  return { uid: p.uid, gfn: p.gfn, role: p.role, bornAt: p.bornAt, rootCount: p.rootCount, n: idx.length, data: [...idx, ...vals, ...kids, ...links] };
}

function checkAgainst(m: Machine, s: ShadowSnapshot, prev: Map<number, PageImage>): void {
  const pages = m.shadow.pages();
  expect(s.pages.map((p) => p.uid)).toEqual(pages.map((p) => p.uid));
  pages.forEach((p, k) => {
    const img = s.pages[k]!;
    const ref = reference(p);
    expect(img).toEqual(ref);
    // Unchanged (or changed back): the previous image object itself.
    const old = prev.get(p.uid);
    if (old !== undefined && JSON.stringify(old) === JSON.stringify(ref)) expect(img).toBe(old);
  });
}

describe('incremental shadow snapshots', () => {
  test('an unchanged page keeps its image; a changed one gets a new image', () => {
    const r = trace(
      `
      mode 64
      space s
      map 0x400000 = 0x200000 P W U A D
      map 0x401000 = 0x201000 P W U A D
      map 0x40000000 = 0x300000 P W U A D
      read 0x400000
      read 0x40000000 @b
      read 0x401000 @c
    `,
      'update',
      'incremental',
    );
    r.to('b');
    const a = r.m.shadow.snapshot();
    expect(r.m.shadow.snapshot().pages).toEqual(a.pages);
    r.m.shadow.snapshot().pages.forEach((img, k) => expect(img).toBe(a.pages[k]));
    r.to('c');
    // `read 0x40000000` linked a new L2 (and L1) under L3 entry 1: the root, and the L2 and
    // L1 of 0x400000, did not change.
    const b = r.m.shadow.snapshot();
    const before = new Map(a.pages.map((p) => [p.uid, p]));
    let kept = 0;
    for (const img of b.pages) {
      const old = before.get(img.uid);
      if (old === img) kept++;
      else if (old) expect(img).not.toEqual(old);
    }
    expect(kept).toBeGreaterThan(0);
    checkAgainst(r.m, b, before);
  });

  test('random traces: every snapshot equals images built from scratch, shares what did not change, and survives restore', () => {
    fc.assert(
      fc.property(planArb(), fc.nat(1000), fc.constantFrom('zap', 'update'), (plan, a, policy) => {
        const prog = program(buildTrace(plan, { linux: a % 3 === 0 }));
        const m = new Machine(prog, { policy, audit: 'incremental' });
        let prev = new Map<number, PageImage>();
        const snaps: ShadowSnapshot[] = [];
        const at = a % (prog.events.count + 1);
        let mid: ReturnType<Machine['snapshot']> | null = null;
        let afterMid: ShadowSnapshot | null = null;
        do {
          const s = m.shadow.snapshot();
          checkAgainst(m, s, prev);
          prev = new Map(s.pages.map((p) => [p.uid, p]));
          snaps.push(s);
          if (m.pos === at) mid = m.snapshot();
          if (mid && !afterMid && m.pos === at + 1) afterMid = s;
        } while (m.step());
        if (!mid) return;
        // Restored: the same images again, and the same snapshots going on.
        m.restore(mid);
        const again = m.shadow.snapshot();
        expect(again.pages.length).toBe(mid.shadow.pages.length);
        again.pages.forEach((img, k) => expect(img).toBe(mid!.shadow.pages[k]));
        checkAgainst(m, again, new Map());
        prev = new Map(again.pages.map((p) => [p.uid, p]));
        if (m.step()) {
          const s = m.shadow.snapshot();
          checkAgainst(m, s, prev);
          if (afterMid) expect(s.pages).toEqual(afterMid.pages);
        }
      }),
      { numRuns: 60 * RUNS },
    );
  }, 60_000 * RUNS);

  // A machine restores its own snapshots in place (pages that still hold their image
  // stay, changed ones are reloaded, pages made since go, pages freed since come back);
  // another machine rebuilds the snapshot whole. Both must give the same shadow, pages and
  // their entries, children, parent links, the reverse map (through the audit) and
  // the hash order (through what happens next), and the in-place one keeps its pages.
  test('random traces: a restore in place equals a whole rebuild, and keeps the pages that did not change', () => {
    fc.assert(
      fc.property(planArb(), fc.nat(1000), fc.nat(1000), fc.constantFrom('zap', 'update'), (plan, a, b, policy) => {
        const prog = program(buildTrace(plan, { linux: a % 3 === 0 }));
        const n = prog.events.count;
        const m = new Machine(prog, { policy, audit: 'full' });
        const at = a % (n + 1);
        while (m.pos < at && m.step()) {
          /* */
        }
        const snap = m.snapshot();
        const later = Math.max(at, b % (n + 1));
        while (m.pos < later && m.step()) {
          /* */
        }
        const before = new Map(m.shadow.pages().map((p) => [p.uid, p]));
        m.restore(snap);
        // A fresh machine, the same snapshot: rebuilt whole.
        const w = new Machine(prog, { policy, audit: 'full' });
        w.restore(snap);
        const pagesOf = (x: Machine) => x.shadow.pages().map(reference);
        expect(pagesOf(m)).toEqual(pagesOf(w));
        expect(m.auditor!.full(-2)).toEqual(w.auditor!.full(-2));
        // Every page whose image the snapshot holds and that was alive and unchanged is the same object.
        for (const p of m.shadow.pages()) {
          const old = before.get(p.uid);
          if (old && old.alive) expect(p).toBe(old);
        }
        for (const [uid, old] of before) if (!m.shadow.pageByUid(uid)) expect(old.alive).toBe(false);
        // And they go on alike (the same exits, shadow and audit to the end).
        while (m.step() && w.step()) {
          expect([m.row, m.mmu.exits.total, m.shadow.alive]).toEqual([w.row, w.mmu.exits.total, w.shadow.alive]);
        }
        expect(pagesOf(m)).toEqual(pagesOf(w));
        expect(m.auditor!.violations.length).toBe(w.auditor!.violations.length);
      }),
      { numRuns: 80 * RUNS },
    );
  }, 60_000 * RUNS);
});
